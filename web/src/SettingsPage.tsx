// The settings page (`#settings`): which provider and model the agent uses, the API keys (write-only), whether
// the agent may browse the web, the linked Telegram accounts, and two-step sign-in where the session has it (AWS).

import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { Api } from './api';
import type { AuthSession } from './auth/session';
import { MfaSettings } from './auth/MfaSettings';
import { PROVIDERS, type LinkCode, type Provider, type Settings } from './protocol';
import {
  formFromSettings,
  PROVIDER_INFO,
  providerLabel,
  settingsUpdate,
  SPEECH_INFO,
  validateSettingsForm,
  type FieldErrors,
  type KeyEdit,
  type ModelForm,
  type SpeechForm,
  type SettingsForm,
} from './settings';

type Loaded = { kind: 'loading' } | { kind: 'failed'; message: string } | { kind: 'ready'; settings: Settings };
type Outcome = { kind: 'saved' } | { kind: 'error'; message: string } | null;

export function SettingsPage({ api, session }: { api: Api; session: AuthSession }) {
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  const headingRef = useRef<HTMLHeadingElement>(null);

  const fetchSettings = useCallback(
    () =>
      api
        .settings()
        .then((result) => setLoaded(result.ok ? { kind: 'ready', settings: result.value } : { kind: 'failed', message: result.message })),
    [api],
  );
  // Loaded once when the page opens (it starts as loading); `api` is stable for the app's life.
  useEffect(() => void fetchSettings(), [fetchSettings]);
  const load = () => {
    setLoaded({ kind: 'loading' });
    void fetchSettings();
  };
  // The page was opened: reading starts at its heading.
  useEffect(() => headingRef.current?.focus(), []);

  return (
    <div className="settings" data-testid="settings-page">
      <div className="settings-inner">
        <h2 ref={headingRef} tabIndex={-1}>
          Settings
        </h2>
        {loaded.kind === 'loading' && <p className="hint">Loading…</p>}
        {loaded.kind === 'failed' && (
          <p className="hint hint-error" role="alert" data-testid="settings-load-error">
            Could not load the settings: {loaded.message}{' '}
            <button type="button" className="link-button" onClick={load}>
              Try again
            </button>
          </p>
        )}
        {loaded.kind === 'ready' && (
          <>
            <ModelAndKeys api={api} settings={loaded.settings} onSaved={(settings) => setLoaded({ kind: 'ready', settings })} />
            <BrowserSection api={api} enabled={loaded.settings.browser} onSaved={(settings) => setLoaded({ kind: 'ready', settings })} />
            <TelegramSection
              api={api}
              linked={loaded.settings.telegram.linked}
              onUnlinked={(id) =>
                setLoaded({
                  kind: 'ready',
                  settings: { ...loaded.settings, telegram: { linked: loaded.settings.telegram.linked.filter((l) => l !== id) } },
                })
              }
            />
          </>
        )}
        {session.mfa !== null && (
          // A section with its own heading.
          <div className="settings-section">
            <MfaSettings mfa={session.mfa} />
          </div>
        )}
      </div>
    </div>
  );
}

function ModelAndKeys({ api, settings, onSaved }: { api: Api; settings: Settings; onSaved: (settings: Settings) => void }) {
  const [form, setForm] = useState<SettingsForm>(() => formFromSettings(settings));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saving, setSaving] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const ids = useId();

  const setModel = (change: Partial<ModelForm>) => {
    setForm((f) => ({ ...f, model: { ...f.model, ...change } }));
    setOutcome(null);
  };
  const setSpeech = (change: Partial<SpeechForm>) => {
    setForm((f) => ({ ...f, speech: { ...f.speech, ...change } }));
    setOutcome(null);
  };
  const setKey = (provider: Provider, edit: KeyEdit) => {
    setForm((f) => ({ ...f, keys: { ...f.keys, [provider]: edit } }));
    setOutcome(null);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateSettingsForm(form);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setOutcome({ kind: 'error', message: 'Some fields need a look before saving.' });
      // The first field with a problem gets the focus, so keyboard and screen reader users land on it.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    setSaving(true);
    const result = await api.saveSettings(settingsUpdate(form));
    setSaving(false);
    if (result.ok) {
      setForm(formFromSettings(result.value));
      setOutcome({ kind: 'saved' });
      onSaved(result.value);
    } else {
      setOutcome({ kind: 'error', message: result.message });
    }
  };

  const m = form.model;
  const provider = PROVIDER_INFO.find((p) => p.id === m.provider) ?? PROVIDER_INFO[0]!;
  const field = (name: keyof FieldErrors) => ({
    'aria-invalid': errors[name] !== undefined,
    'aria-describedby': errors[name] !== undefined ? `${ids}-${name}-error` : undefined,
  });
  const fieldError = (name: keyof FieldErrors) =>
    errors[name] !== undefined && (
      <span className="field-error" id={`${ids}-${name}-error`}>
        {errors[name]}
      </span>
    );

  return (
    <form ref={formRef} className="settings-form" onSubmit={(event) => void save(event)} noValidate>
      <section className="settings-section" aria-labelledby={`${ids}-model`}>
        <h3 id={`${ids}-model`}>Model</h3>
        <fieldset className="choice">
          <legend className="visually-hidden">Which model the agent uses</legend>
          <label className="radio">
            <input
              type="radio"
              name="model-choice"
              data-testid="use-default"
              checked={m.useDefault}
              onChange={() => setModel({ useDefault: true })}
            />
            Use the server default
            <span className="muted"> ({settings.defaultModel ?? 'none configured'})</span>
          </label>
          <label className="radio">
            <input
              type="radio"
              name="model-choice"
              data-testid="use-own-model"
              checked={!m.useDefault}
              onChange={() => setModel({ useDefault: false })}
            />
            Choose a provider and model
          </label>
        </fieldset>
        {!m.useDefault && (
          <div className="fields">
            <Field label="Provider" htmlFor={`${ids}-provider`}>
              <select
                id={`${ids}-provider`}
                data-testid="provider-select"
                value={m.provider}
                onChange={(event) => setModel({ provider: event.target.value as Provider })}
              >
                {PROVIDER_INFO.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Model" htmlFor={`${ids}-model-id`} error={fieldError('model')}>
              <input
                id={`${ids}-model-id`}
                data-testid="model-input"
                list={provider.suggestions.length > 0 ? `${ids}-suggestions` : undefined}
                value={m.model}
                autoComplete="off"
                spellCheck={false}
                placeholder={provider.suggestions[0] ?? 'model id'}
                onChange={(event) => setModel({ model: event.target.value })}
                {...field('model')}
              />
              <datalist id={`${ids}-suggestions`}>
                {provider.suggestions.map((s) => (
                  <option key={s} value={s} />
                ))}
              </datalist>
            </Field>
            {m.provider === 'openai-compatible' && (
              <Field
                label="Base URL"
                htmlFor={`${ids}-base-url`}
                error={fieldError('baseUrl')}
                note="The endpoint that serves /chat/completions, e.g. https://llm.example.com/v1"
              >
                <input
                  id={`${ids}-base-url`}
                  data-testid="base-url-input"
                  type="url"
                  value={m.baseUrl}
                  autoComplete="off"
                  spellCheck={false}
                  onChange={(event) => setModel({ baseUrl: event.target.value })}
                  {...field('baseUrl')}
                />
              </Field>
            )}
            {m.provider === 'bedrock' && (
              <Field
                label="Region (optional)"
                htmlFor={`${ids}-region`}
                error={fieldError('region')}
                note="Empty: the deployment’s region. Bedrock is reached through its OpenAI-compatible endpoint with a Bedrock API key (below)."
              >
                <input
                  id={`${ids}-region`}
                  data-testid="region-input"
                  value={m.region}
                  autoComplete="off"
                  spellCheck={false}
                  placeholder="us-east-1"
                  onChange={(event) => setModel({ region: event.target.value })}
                  {...field('region')}
                />
              </Field>
            )}
          </div>
        )}
      </section>

      <section className="settings-section" aria-labelledby={`${ids}-speech`}>
        <h3 id={`${ids}-speech`}>Voice notes</h3>
        <p className="muted">
          Voice notes (the microphone, Telegram voice messages) are transcribed with your key for the speech-to-text provider, and the words
          go to the agent.
        </p>
        <div className="fields">
          <Field label="Speech-to-text" htmlFor={`${ids}-speech-provider`}>
            <select
              id={`${ids}-speech-provider`}
              data-testid="speech-provider-select"
              value={form.speech.provider}
              onChange={(event) => setSpeech({ provider: event.target.value as SpeechForm['provider'] })}
            >
              <option value="auto">Automatic: OpenAI if its key is stored, else Groq</option>
              {SPEECH_INFO.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </Field>
          {form.speech.provider !== 'auto' && (
            <Field label="Model (optional)" htmlFor={`${ids}-speech-model`} error={fieldError('speechModel')}>
              <input
                id={`${ids}-speech-model`}
                data-testid="speech-model-input"
                value={form.speech.model}
                autoComplete="off"
                spellCheck={false}
                placeholder={SPEECH_INFO.find((p) => p.id === form.speech.provider)?.defaultModel}
                onChange={(event) => setSpeech({ model: event.target.value })}
                {...field('speechModel')}
              />
            </Field>
          )}
          {form.speech.provider === 'openai-compatible' && (
            <Field
              label="Base URL"
              htmlFor={`${ids}-speech-base-url`}
              error={fieldError('speechBaseUrl')}
              note="The endpoint that serves /audio/transcriptions, e.g. https://whisper.example.com/v1; it gets the OpenAI-compatible key below."
            >
              <input
                id={`${ids}-speech-base-url`}
                data-testid="speech-base-url-input"
                type="url"
                value={form.speech.baseUrl}
                autoComplete="off"
                spellCheck={false}
                onChange={(event) => setSpeech({ baseUrl: event.target.value })}
                {...field('speechBaseUrl')}
              />
            </Field>
          )}
        </div>
      </section>

      <section className="settings-section" aria-labelledby={`${ids}-keys`}>
        <h3 id={`${ids}-keys`}>API keys</h3>
        <p className="muted">Keys are stored on the server and never shown again. Turns with a provider use your key when one is stored.</p>
        <ul className="keys">
          {PROVIDERS.map((p) => (
            <KeyRow
              key={p}
              provider={p}
              stored={settings.apiKeys[p]}
              edit={form.keys[p]}
              onEdit={(edit) => setKey(p, edit)}
              error={fieldError(p)}
              invalid={field(p)}
              inputId={`${ids}-key-${p}`}
            />
          ))}
        </ul>
      </section>

      <div className="settings-save">
        <button type="submit" className="button button-send" data-testid="save-settings" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <span role="status" aria-live="polite" data-testid="settings-status">
          {outcome?.kind === 'saved' && <span className="ok-text">Saved.</span>}
        </span>
        {outcome?.kind === 'error' && (
          <span className="hint-error" role="alert" data-testid="settings-error">
            {outcome.message}
          </span>
        )}
      </div>
    </form>
  );
}

/** The browser switch: saved as soon as it is flipped, apart from the form above. */
function BrowserSection({ api, enabled, onSaved }: { api: Api; enabled: boolean; onSaved: (settings: Settings) => void }) {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = useId();
  const flip = async (next: boolean) => {
    setSaving(true);
    setError(null);
    const result = await api.saveSettings({ browser: next });
    setSaving(false);
    if (result.ok) onSaved(result.value);
    else setError(result.message);
  };
  return (
    <section className="settings-section" aria-labelledby={`${ids}-browser`}>
      <h3 id={`${ids}-browser`}>Web browser</h3>
      <p className="muted">
        The agent can open web pages in a headless browser on the server, read them and take screenshots, which show up in the chat. It
        cannot reach the server&apos;s own or private network addresses.
      </p>
      <label className="checkbox">
        <input
          type="checkbox"
          data-testid="browser-switch"
          checked={enabled}
          disabled={saving}
          onChange={(event) => void flip(event.target.checked)}
        />
        Let the agent use the browser
      </label>
      {error !== null && (
        <span className="hint-error" role="alert" data-testid="browser-error">
          {error}
        </span>
      )}
    </section>
  );
}

function Field({
  label,
  htmlFor,
  error,
  note,
  children,
}: {
  label: string;
  htmlFor: string;
  error?: ReactNode;
  note?: string;
  children: ReactNode;
}) {
  return (
    <div className="field">
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {note !== undefined && <span className="muted field-note">{note}</span>}
      {error}
    </div>
  );
}

function KeyRow({
  provider,
  stored,
  edit,
  onEdit,
  error,
  invalid,
  inputId,
}: {
  provider: Provider;
  stored: boolean;
  edit: KeyEdit;
  onEdit: (edit: KeyEdit) => void;
  error: ReactNode;
  invalid: { 'aria-invalid': boolean; 'aria-describedby': string | undefined };
  inputId: string;
}) {
  const label = `${providerLabel(provider)} API key`;
  // A key that is not set takes one straight away; a stored one is replaced or removed on purpose.
  const typing = !stored || edit.kind === 'replace';
  return (
    <li className="key-row" data-testid={`api-key-${provider}`} data-stored={stored}>
      <div className="key-head">
        {typing ? <label htmlFor={inputId}>{label}</label> : <span className="key-name">{label}</span>}
        <span className={stored ? 'key-state key-stored' : 'key-state'} data-testid="key-state">
          {stored ? 'stored ✓' : 'not set'}
        </span>
      </div>
      {typing && (
        <div className="key-input">
          <input
            id={inputId}
            data-testid="key-input"
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder={stored ? 'New key' : 'Paste the key'}
            value={edit.kind === 'replace' ? edit.value : ''}
            onChange={(event) =>
              onEdit(event.target.value === '' && !stored ? { kind: 'keep' } : { kind: 'replace', value: event.target.value })
            }
            {...invalid}
          />
          {stored && (
            <button type="button" className="link-button" onClick={() => onEdit({ kind: 'keep' })}>
              Cancel
            </button>
          )}
        </div>
      )}
      {stored && edit.kind === 'keep' && (
        <div className="key-actions">
          <button
            type="button"
            className="link-button"
            data-testid="key-replace"
            onClick={() => onEdit({ kind: 'replace', value: '' })}
            aria-label={`Replace ${label}`}
          >
            Replace
          </button>
          <button
            type="button"
            className="link-button link-danger"
            data-testid="key-remove"
            onClick={() => onEdit({ kind: 'remove' })}
            aria-label={`Remove ${label}`}
          >
            Remove
          </button>
        </div>
      )}
      {stored && edit.kind === 'remove' && (
        <div className="key-actions">
          <span className="muted">Removed when you save.</span>
          <button type="button" className="link-button" onClick={() => onEdit({ kind: 'keep' })} aria-label={`Keep ${label}`}>
            Undo
          </button>
        </div>
      )}
      {error}
    </li>
  );
}

function TelegramSection({ api, linked, onUnlinked }: { api: Api; linked: number[]; onUnlinked: (id: number) => void }) {
  const [code, setCode] = useState<{ kind: 'code'; code: LinkCode } | { kind: 'error'; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [unlinkError, setUnlinkError] = useState<string | null>(null);

  const getCode = async () => {
    setBusy(true);
    const result = await api.linkCode();
    setBusy(false);
    setCode(result.ok ? { kind: 'code', code: result.value } : { kind: 'error', message: result.message });
  };
  const unlink = async (id: number) => {
    const result = await api.unlinkTelegram(id);
    // Not linked (any more) is what was asked for.
    if (result.ok || result.status === 404) {
      setUnlinkError(null);
      onUnlinked(id);
    } else {
      setUnlinkError(result.message);
    }
  };

  return (
    <section className="settings-section" aria-labelledby="telegram-heading">
      <h3 id="telegram-heading">Telegram</h3>
      {linked.length === 0 ? (
        <p className="muted" data-testid="telegram-none">
          No Telegram account is linked.
        </p>
      ) : (
        <ul className="telegram-links" data-testid="telegram-linked">
          {linked.map((id) => (
            <li key={id}>
              Telegram user <code>{id}</code>{' '}
              <button
                type="button"
                className="link-button link-danger"
                data-testid={`unlink-${id}`}
                onClick={() => void unlink(id)}
                aria-label={`Unlink Telegram user ${id}`}
              >
                Unlink
              </button>
            </li>
          ))}
        </ul>
      )}
      {unlinkError !== null && (
        <p className="hint-error" role="alert">
          {unlinkError}
        </p>
      )}
      <div className="telegram-link">
        <button type="button" className="button" onClick={() => void getCode()} disabled={busy} data-testid="telegram-link-button">
          Link Telegram
        </button>
        <p className="telegram-link-result" role="status" data-testid="telegram-link-result">
          {code?.kind === 'code' && (
            <>
              Send <code data-testid="telegram-link-code">/link {code.code.code}</code> to your bot before{' '}
              {code.code.expiresAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.
            </>
          )}
          {code?.kind === 'error' && <span className="hint-error">{code.message}</span>}
        </p>
      </div>
    </section>
  );
}
