// Edit and regenerate on the last exchange, and the arrows that browse its versions ("< 1/2 >"). The rules
// (which exchange, which version is shown) are chatState.ts's; these only draw them. An earlier version is
// view-only: sending goes on from the current one.

import { useState } from 'react';
import type { VersionPager } from './chatState';

interface ExchangeControlsProps {
  /** Shown under a user message that can be edited: starts editing it. */
  onEdit: (() => void) | null;
  /** Shown under a reply that can be regenerated. */
  onRegenerate: (() => void) | null;
  /** Shown under the message the version arrows go with. */
  pager: VersionPager | null;
  onBrowse: (index: number) => void;
}

export function ExchangeControls({ onEdit, onRegenerate, pager, onBrowse }: ExchangeControlsProps) {
  if (onEdit === null && onRegenerate === null && pager === null) return null;
  const last = pager === null ? 0 : pager.count - 1;
  return (
    <div className="exchange-controls">
      {pager !== null && (
        <span className="version-pager" data-testid="version-pager" data-index={pager.index}>
          <button
            type="button"
            className="link-button"
            data-testid="version-previous"
            aria-label="Earlier version"
            disabled={pager.index === 0}
            onClick={() => onBrowse(pager.index - 1)}
          >
            &lt;
          </button>
          <span data-testid="version-label">
            {pager.index + 1}/{pager.count}
          </span>
          <button
            type="button"
            className="link-button"
            data-testid="version-next"
            aria-label="Later version"
            disabled={pager.index === last}
            onClick={() => onBrowse(pager.index + 1)}
          >
            &gt;
          </button>
          {pager.index !== last && <span className="hint">an earlier version, view only</span>}
        </span>
      )}
      {onEdit !== null && (
        <button type="button" className="link-button" data-testid="edit-button" onClick={onEdit}>
          Edit
        </button>
      )}
      {onRegenerate !== null && (
        <button type="button" className="link-button" data-testid="regenerate-button" onClick={onRegenerate}>
          Regenerate
        </button>
      )}
    </div>
  );
}

interface EditBoxProps {
  text: string;
  /** Sends the edited text; false when it was not sent (the box stays open). */
  onSave: (text: string) => boolean;
  onCancel: () => void;
}

/** The last user message being edited, in place of its bubble. */
export function EditBox({ text, onSave, onCancel }: EditBoxProps) {
  const [draft, setDraft] = useState(text);
  return (
    <form
      className="message message-user message-editing"
      data-testid="edit-box"
      onSubmit={(event) => {
        event.preventDefault();
        onSave(draft);
      }}
    >
      <label className="visually-hidden" htmlFor="edit-input">
        Edit your message
      </label>
      <textarea
        id="edit-input"
        data-testid="edit-input"
        value={draft}
        rows={Math.min(8, Math.max(2, draft.split('\n').length))}
        onChange={(event) => setDraft(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onCancel();
        }}
      />
      <div className="message-meta">
        <button type="submit" className="button" data-testid="edit-save" disabled={draft.trim() === '' || draft === text}>
          Save
        </button>
        <button type="button" className="link-button" data-testid="edit-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
