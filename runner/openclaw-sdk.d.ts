// The parts of OpenClaw's public plugin SDK that `gateway-sync.mjs` uses (the package ships them as
// JavaScript without declarations). Checked against openclaw 2026.9.6.

declare module 'openclaw/plugin-sdk/session-transcript-runtime' {
  interface SessionRef {
    agentId: string;
    sessionKey: string;
    sessionId: string;
  }
  /** A session's transcript: its header, then its entries, in the runner's JSONL record shape. */
  export function readSessionTranscriptEvents(params: SessionRef): Promise<unknown[]>;
  /** Appends messages to a session, keeping each one's `eventId` as its entry id. */
  export function appendSessionTranscriptMessagesByIdentity(
    params: SessionRef & { messages: { message: unknown; eventId?: string }[] },
  ): Promise<unknown>;
}
