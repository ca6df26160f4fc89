import { describe, expect, it } from 'vitest';
import { formatElapsed, recordingFile, recordingType, RECORDING_TYPES } from './useVoiceRecorder';

describe('recordingType', () => {
  it('takes the first type the browser records, WebM with Opus first', () => {
    expect(recordingType(() => true)).toBe('audio/webm;codecs=opus');
    expect(recordingType((t) => t === 'audio/mp4')).toBe('audio/mp4');
    expect(recordingType(() => false)).toBeNull();
    expect(RECORDING_TYPES.every((t) => t.startsWith('audio/'))).toBe(true);
  });
});

describe('recordingFile', () => {
  const at = new Date(2026, 11, 7, 9, 5, 3);

  it('names the recording for when it was made and types it without codec parameters', async () => {
    const file = recordingFile([new Blob(['ab']), new Blob(['cd'])], 'audio/webm;codecs=opus', at);
    expect(file.name).toBe('voice-20261207-090503.webm');
    expect(file.type).toBe('audio/webm');
    expect(await file.text()).toBe('abcd');
  });

  it('gives Safari’s MP4 the extension the server and the transcription endpoints know', () => {
    expect(recordingFile([new Blob(['x'])], 'audio/mp4', at).name).toBe('voice-20261207-090503.m4a');
    expect(recordingFile([new Blob(['x'])], 'audio/ogg;codecs=opus', at).name).toBe('voice-20261207-090503.ogg');
  });
});

describe('formatElapsed', () => {
  it('shows minutes and seconds', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(9_999)).toBe('0:09');
    expect(formatElapsed(65_000)).toBe('1:05');
  });
});
