// Caller-owned transcripts (docs/runner-protocol.md, "Transcript files"): reads the host's JSONL into
// an OpenClaw SessionManager, and writes back only what OpenClaw needs to rebuild the model's context,
// so that a compacted conversation's stored transcript stays bounded.

import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

/** @import { OpenClaw, SessionEntry, SessionManager, SessionRequest } from '../types.d.ts' */

/**
 * Entry types that carry conversation (what OpenClaw's buildSessionContext turns into model
 * messages). Every other type (`model_change`, `thinking_level_change`, `custom`, `label`,
 * `session_info`, ...) is session state, of which only the latest of each kind counts.
 */
const CONVERSATION_TYPES = new Set(['message', 'custom_message', 'branch_summary', 'compaction']);

/** Which kind of session state an entry is: its type, and for `custom` entries their customType. */
/** @param {SessionEntry} entry */
function stateKind(entry) {
  return entry.type === 'custom' ? `custom:${entry.customType}` : entry.type;
}

/**
 * The records to store for a session: its header and the current branch (root to leaf), without
 * what the latest compaction made unreachable.
 *
 * After a compaction OpenClaw builds the model's context from the compaction's summary, the
 * entries from its `firstKeptEntryId` on, and the latest session state (model, thinking level,
 * model snapshot) found on the branch. The conversation entries before `firstKeptEntryId` are never
 * read again, so they are dropped, and of the state entries before it only the latest of each kind
 * is kept. The kept entries are linked again into one chain (`parentId`), in their order. Other
 * branches than the current one are dropped too (the context is built from the current branch).
 * Without a compaction the branch is kept whole. Loading the result with
 * `SessionManager.fromEntries` gives the model the same context (test/compaction.test.mjs checks what it is sent).
 */
/**
 * @param {SessionEntry | null} header
 * @param {SessionEntry[]} branch
 * @returns {SessionEntry[]}
 */
export function retainedRecords(header, branch) {
  let cut = 0;
  for (let i = branch.length - 1; i >= 0; i--) {
    const entry = /** @type {SessionEntry} */ (branch[i]);
    if (entry.type !== 'compaction') continue;
    const kept = branch.findIndex((e) => e.id === entry.firstKeptEntryId);
    cut = kept >= 0 ? kept : i;
    break;
  }
  const latestState = new Map();
  for (const entry of branch.slice(0, cut)) if (!CONVERSATION_TYPES.has(entry.type)) latestState.set(stateKind(entry), entry);
  const retained = new Set(latestState.values());
  const kept = [...branch.slice(0, cut).filter((e) => retained.has(e)), ...branch.slice(cut)];
  /** @type {string | null | undefined} */
  let parentId = null;
  const chained = kept.map((entry) => {
    const linked = entry.parentId === parentId ? entry : { ...entry, parentId };
    parentId = entry.id;
    return linked;
  });
  return [header, ...chained].filter((record) => record != null);
}

/** The size of a transcript file in bytes (0 when it does not exist). */
/** @param {string} file */
export async function transcriptSize(file) {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException | undefined} */ (err)?.code === 'ENOENT') return 0;
    throw err;
  }
}

/** A SessionManager over the run's `transcriptPath` (a new session when missing or empty). */
/**
 * @param {OpenClaw} oc
 * @param {Pick<SessionRequest, 'transcriptPath' | 'workspaceDir'>} req
 */
export async function loadSession(oc, req) {
  let content;
  try {
    content = await fs.readFile(req.transcriptPath, 'utf8');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException | undefined} */ (err)?.code === 'ENOENT') return oc.SessionManager.inMemory(req.workspaceDir);
    throw err;
  }
  const entries = oc.parseSessionEntries(content);
  if (entries.length === 0) return oc.SessionManager.inMemory(req.workspaceDir);
  return oc.SessionManager.fromEntries(entries, req.workspaceDir);
}

/**
 * Writes the session's retained records (see retainedRecords) to `outPath` as JSONL: to a
 * temporary name, synced, then renamed, so the file is complete or absent.
 */
/**
 * @param {SessionManager} sm
 * @param {string} outPath
 */
export async function writeTranscript(sm, outPath) {
  const body = retainedRecords(sm.getHeader(), sm.getBranch()).map((r) => JSON.stringify(r)).join('\n') + '\n';
  await fs.mkdir(path.dirname(outPath), { recursive: true });
  const tmp = path.join(path.dirname(outPath), `.${path.basename(outPath)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, outPath);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}
