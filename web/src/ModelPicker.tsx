// The chat header's per-conversation model and thinking-level picker (`/api/conversations/{id}/settings`):
// it shows the conversation's own values (or the defaults it runs with) and changes them for this
// conversation only; the settings page keeps the user's default. `/model` and `/think` typed in the chat
// change the same settings, so the picker reads them again when `refresh` changes.

import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import type { Api, ApiResult } from './api';
import { THINKING_LEVELS, type ConversationSettings, type ConversationSettingsChange, type ThinkingLevel } from './protocol';

export interface ModelPickerProps {
  api: Api;
  conversationId: string;
  /** Changes when something else may have changed the settings (a command's notice). */
  refresh: number;
}

export function ModelPicker({ api, conversationId, refresh }: ModelPickerProps) {
  const ids = useId();
  const [settings, setSettings] = useState<ConversationSettings | null>(null);
  const [modelDraft, setModelDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  // The settings the server answered with (the draft follows them), or its reason for refusing.
  const show = useCallback((result: ApiResult<ConversationSettings>) => {
    if (result.ok) {
      setSettings(result.value);
      setModelDraft(result.value.model ?? '');
      setError(null);
    } else {
      setError(result.message);
    }
  }, []);

  useEffect(() => {
    let current = true;
    void api.conversationSettings(conversationId).then((result) => {
      if (current) show(result);
    });
    return () => {
      current = false;
    };
  }, [api, conversationId, refresh, show]);

  const change = async (update: ConversationSettingsChange) => {
    setSaving(true);
    const result = await api.changeConversationSettings(conversationId, update);
    setSaving(false);
    show(result);
  };

  const applyModel = (event: FormEvent) => {
    event.preventDefault();
    const model = modelDraft.trim();
    void change({ model: model === '' ? null : model });
  };

  const levels = settings?.thinkingLevels ?? THINKING_LEVELS;
  const defaultLabel = settings?.defaultModel ?? 'none configured';
  return (
    <form className="model-picker" data-testid="model-picker" aria-label="Model for this conversation" onSubmit={applyModel}>
      <label htmlFor={`${ids}-model`}>Model</label>
      <input
        id={`${ids}-model`}
        data-testid="conversation-model"
        list={`${ids}-models`}
        value={modelDraft}
        placeholder={`default (${defaultLabel})`}
        spellCheck={false}
        autoComplete="off"
        maxLength={128}
        disabled={settings === null}
        aria-describedby={`${ids}-effective`}
        onChange={(event) => setModelDraft(event.target.value)}
      />
      <datalist id={`${ids}-models`}>
        {(settings?.models ?? []).map((m) => (
          <option key={m.id} value={m.id}>
            {m.default ? `${m.id} (default)` : m.id}
          </option>
        ))}
      </datalist>
      <button type="submit" className="link-button" data-testid="conversation-model-apply" disabled={settings === null || saving}>
        Use
      </button>
      <label htmlFor={`${ids}-thinking`}>Thinking</label>
      <select
        id={`${ids}-thinking`}
        data-testid="conversation-thinking"
        value={settings?.thinking ?? ''}
        disabled={settings === null}
        onChange={(event) => {
          const level = levels.find((l) => l === event.target.value);
          void change({ thinking: level ?? null });
        }}
      >
        <option value="">default</option>
        {levels.map((level: ThinkingLevel) => (
          <option key={level} value={level}>
            {level}
          </option>
        ))}
      </select>
      <span id={`${ids}-effective`} className="muted model-picker-effective" data-testid="effective-model">
        {settings === null
          ? ''
          : `Runs ${settings.effectiveModel ?? 'no model'}${settings.modelSource === 'conversation' ? '' : ' (default)'}`}
      </span>
      {error !== null && (
        <span className="hint hint-error" role="alert" data-testid="model-picker-error">
          {error}
        </span>
      )}
    </form>
  );
}
