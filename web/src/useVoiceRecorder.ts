// The composer's microphone: records a voice note with MediaRecorder and hands it over as a file, which goes
// through the same upload as a picked file (./useComposerAttachments) and is sent with the message. The server
// transcribes it before the agent runs (docs/protocol.md, "Attachments"). The microphone is released as soon as a
// recording ends.

import { useCallback, useEffect, useRef, useState } from 'react';

/** What the recorder asks for, best first: what browsers record and the server takes (WebM with Opus from Chrome
 * and Firefox, MP4 from Safari). */
export const RECORDING_TYPES = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'] as const;

/** A recording stops by itself after this long: far below the server's 20 MiB audio limit at voice bitrates. */
export const MAX_RECORDING_MS = 10 * 60 * 1000;

/** The first type the browser can record; null when it records none of them. */
export function recordingType(isTypeSupported: (type: string) => boolean): string | null {
  return RECORDING_TYPES.find((type) => isTypeSupported(type)) ?? null;
}

/** The recorded chunks as a file named for when it was made, typed without codec parameters. */
export function recordingFile(chunks: Blob[], type: string, at: Date): File {
  const base = type.split(';')[0]!.trim();
  const extension = base === 'audio/mp4' ? 'm4a' : (base.split('/')[1] ?? 'webm');
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
  return new File(chunks, `voice-${stamp}.${extension}`, { type: base });
}

/** `m:ss`, for the recording's running time. */
export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export type RecorderState =
  { kind: 'idle' } | { kind: 'starting' } | { kind: 'recording'; startedAt: number } | { kind: 'failed'; message: string };

export interface VoiceRecorder {
  state: RecorderState;
  /** Milliseconds recorded so far (0 unless recording). */
  elapsedMs: number;
  /** Whether this browser can record at all. */
  supported: boolean;
  start: () => void;
  /** Ends the recording; the file goes to `onRecorded`. */
  stop: () => void;
}

/** Records voice notes; each finished recording is passed to `onRecorded`. */
export function useVoiceRecorder(onRecorded: (file: File) => void): VoiceRecorder {
  const [state, setState] = useState<RecorderState>({ kind: 'idle' });
  const [now, setNow] = useState(() => Date.now());
  const recorder = useRef<MediaRecorder | null>(null);
  const deliver = useRef(onRecorded);
  useEffect(() => {
    deliver.current = onRecorded;
  }, [onRecorded]);
  const supported =
    typeof MediaRecorder !== 'undefined' && typeof navigator !== 'undefined' && navigator.mediaDevices?.getUserMedia !== undefined;

  const stop = useCallback(() => {
    if (recorder.current !== null && recorder.current.state !== 'inactive') recorder.current.stop();
  }, []);

  const start = useCallback(() => {
    if (!supported || recorder.current !== null) return;
    const type = recordingType((t) => MediaRecorder.isTypeSupported(t));
    if (type === null) {
      setState({ kind: 'failed', message: 'This browser cannot record audio in a format the server takes.' });
      return;
    }
    setState({ kind: 'starting' });
    navigator.mediaDevices.getUserMedia({ audio: true }).then(
      (stream) => {
        const chunks: Blob[] = [];
        const media = new MediaRecorder(stream, { mimeType: type });
        recorder.current = media;
        media.ondataavailable = (event) => {
          if (event.data.size > 0) chunks.push(event.data);
        };
        media.onstop = () => {
          // The microphone's light goes off with the recording.
          for (const track of stream.getTracks()) track.stop();
          recorder.current = null;
          setState({ kind: 'idle' });
          if (chunks.length > 0) deliver.current(recordingFile(chunks, type, new Date()));
        };
        media.start();
        setState({ kind: 'recording', startedAt: Date.now() });
      },
      () => setState({ kind: 'failed', message: 'The microphone is not available: allow this page to use it and try again.' }),
    );
  }, [supported]);

  // The running time, and the automatic stop.
  const recording = state.kind === 'recording';
  useEffect(() => {
    if (!recording) return undefined;
    const tick = setInterval(() => setNow(Date.now()), 250);
    const limit = setTimeout(stop, MAX_RECORDING_MS);
    return () => {
      clearInterval(tick);
      clearTimeout(limit);
    };
  }, [recording, stop]);

  // A recording in progress when the view goes is dropped, and the microphone released.
  useEffect(
    () => () => {
      const media = recorder.current;
      if (media === null) return;
      media.ondataavailable = null;
      media.onstop = null;
      if (media.state !== 'inactive') media.stop();
      for (const track of media.stream.getTracks()) track.stop();
    },
    [],
  );

  return { state, elapsedMs: state.kind === 'recording' ? Math.max(0, now - state.startedAt) : 0, supported, start, stop };
}
