// How the footer of an assistant reply shows what the turn cost. Fixed to en-US so it reads the same everywhere.

import type { TurnMeta } from './chatState';
import type { TurnActivity } from './protocol';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCost(usd: number): string {
  // Turns usually cost fractions of a cent, which two decimals would round to $0.00.
  return `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 1 ? 4 : 2)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * "1,234 in · 56 out · $0.0012 · 3.4 s"; the cost is left out when the provider gives none, the duration when
 * it is not known (replies read from the history).
 */
export function formatMeta(meta: TurnMeta): string {
  const parts = [`${integer.format(meta.inputTokens)} in`, `${integer.format(meta.outputTokens)} out`];
  if (meta.costUsd !== null) parts.push(formatCost(meta.costUsd));
  if (meta.durationMs !== undefined) parts.push(formatDuration(meta.durationMs));
  return parts.join(' · ');
}

const dayAndTime = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const timeOnly = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit' });

/** When a conversation was last updated: the time for today, else the day and time. */
export function formatUpdated(iso: string, now: Date): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return at.toDateString() === now.toDateString() ? timeOnly.format(at) : dayAndTime.format(at);
}

/** A size as people read it. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** "Worked for 4.2 s · 2 tools". */
export function workedLabel(activity: TurnActivity): string {
  const tools = `${activity.toolCount} ${activity.toolCount === 1 ? 'tool' : 'tools'}`;
  return `Worked for ${formatDuration(activity.workedMs)} · ${tools}`;
}
