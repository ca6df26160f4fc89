import { describe, expect, it } from 'vitest';
import { formatCost, formatDuration, formatMeta, formatUpdated } from './format';

describe('formatMeta', () => {
  it('shows tokens, cost and duration', () => {
    expect(formatMeta({ inputTokens: 1234, outputTokens: 56, costUsd: 0.0012, durationMs: 3400 })).toBe(
      '1,234 in · 56 out · $0.0012 · 3.4 s',
    );
  });

  it('leaves the cost out when there is none', () => {
    expect(formatMeta({ inputTokens: 10, outputTokens: 2, costUsd: null, durationMs: 850 })).toBe('10 in · 2 out · 850 ms');
  });

  it('leaves the duration out when it is not known (history)', () => {
    expect(formatMeta({ inputTokens: 10, outputTokens: 2, costUsd: 0.5 })).toBe('10 in · 2 out · $0.5000');
  });
});

describe('formatCost and formatDuration', () => {
  it('keep fractions of a cent visible and round whole amounts to cents', () => {
    expect(formatCost(0.00042)).toBe('$0.0004');
    expect(formatCost(0)).toBe('$0.00');
    expect(formatCost(2.5)).toBe('$2.50');
  });

  it('switch units with the size of the duration', () => {
    expect(formatDuration(999)).toBe('999 ms');
    expect(formatDuration(1000)).toBe('1.0 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });
});

describe('formatUpdated', () => {
  it('shows the time for today and the day before that', () => {
    const now = new Date(2026, 10, 21, 15, 0);
    expect(formatUpdated(new Date(2026, 10, 21, 9, 5).toISOString(), now)).toBe('09:05 AM');
    expect(formatUpdated(new Date(2026, 10, 19, 18, 30).toISOString(), now)).toBe('Nov 19, 06:30 PM');
    expect(formatUpdated('not a date', now)).toBe('');
  });
});
