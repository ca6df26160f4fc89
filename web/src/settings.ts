// The settings form without React: what it shows for the server's settings, what it checks before saving
// (the same rules the server applies, so most mistakes are caught without a round trip), and the
// `PUT /api/settings` body it sends. API keys are write-only: the form only knows whether one is stored,
// and sends a key only when the user typed a new one or asked to remove it.

import {
  PROVIDERS,
  type ModelSettings,
  type Provider,
  type Settings,
  type SettingsUpdate,
  type SpeechProvider,
  type SpeechSettings,
} from './protocol';

export interface ProviderInfo {
  id: Provider;
  label: string;
  /** Model ids offered in the model field's suggestions. */
  suggestions: readonly string[];
}

export const PROVIDER_INFO: readonly ProviderInfo[] = [
  { id: 'anthropic', label: 'Anthropic', suggestions: ['claude-sonnet-5', 'claude-opus-5', 'claude-haiku-4-5'] },
  { id: 'openai', label: 'OpenAI', suggestions: ['gpt-5.5', 'gpt-5.4-mini'] },
  { id: 'deepseek', label: 'DeepSeek', suggestions: ['deepseek-chat', 'deepseek-reasoner'] },
  { id: 'bedrock', label: 'Amazon Bedrock', suggestions: ['openai.gpt-oss-120b-1:0', 'openai.gpt-oss-20b-1:0'] },
  { id: 'openai-compatible', label: 'OpenAI-compatible', suggestions: [] },
  { id: 'groq', label: 'Groq', suggestions: ['openai/gpt-oss-120b', 'llama-3.3-70b-versatile'] },
];

/** The speech-to-text choices: by the keys stored (`auto`), or one endpoint. */
export const SPEECH_INFO: readonly { id: SpeechProvider; label: string; defaultModel: string }[] = [
  { id: 'openai', label: 'OpenAI', defaultModel: 'gpt-4o-mini-transcribe' },
  { id: 'groq', label: 'Groq', defaultModel: 'whisper-large-v3-turbo' },
  { id: 'openai-compatible', label: 'OpenAI-compatible', defaultModel: 'whisper-1' },
];

export function providerLabel(provider: Provider): string {
  return PROVIDER_INFO.find((p) => p.id === provider)?.label ?? provider;
}

/** The server's limits (crates/core/src/settings.rs). */
export const MAX_MODEL_LENGTH = 128;
export const MAX_BASE_URL_LENGTH = 2048;
export const MAX_API_KEY_LENGTH = 4096;
const MODEL_ID = /^[A-Za-z0-9._:/@+-]+$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const API_KEY = /^[\x21-\x7e]+$/;

export interface ModelForm {
  /** Run turns with the server's default model (`model: null`). */
  useDefault: boolean;
  provider: Provider;
  model: string;
  baseUrl: string;
  region: string;
}

/** What to do with one provider's stored key on save. */
export type KeyEdit = { kind: 'keep' } | { kind: 'replace'; value: string } | { kind: 'remove' };

export type KeyEdits = Record<Provider, KeyEdit>;

export interface SpeechForm {
  /** `auto`: OpenAI when an OpenAI key is stored, else Groq (`speech: null`). */
  provider: SpeechProvider | 'auto';
  /** Empty: the provider's default model. */
  model: string;
  baseUrl: string;
}

export interface SettingsForm {
  model: ModelForm;
  speech: SpeechForm;
  keys: KeyEdits;
}

export type FieldErrors = Partial<Record<'model' | 'baseUrl' | 'region' | 'speechModel' | 'speechBaseUrl' | Provider, string>>;

export function unchangedKeys(): KeyEdits {
  return Object.fromEntries(PROVIDERS.map((p) => [p, { kind: 'keep' }])) as KeyEdits;
}

/** The form for the settings the server holds (a fresh one after every load and save). */
export function formFromSettings(settings: Settings): SettingsForm {
  const model = settings.model;
  return {
    model:
      model === null
        ? { useDefault: true, provider: 'anthropic', model: '', baseUrl: '', region: '' }
        : { useDefault: false, provider: model.provider, model: model.model, baseUrl: model.baseUrl ?? '', region: model.region ?? '' },
    speech:
      settings.speech === null
        ? { provider: 'auto', model: '', baseUrl: '' }
        : { provider: settings.speech.provider, model: settings.speech.model ?? '', baseUrl: settings.speech.baseUrl ?? '' },
    keys: unchangedKeys(),
  };
}

function validBaseUrl(url: string): boolean {
  if (url.length > MAX_BASE_URL_LENGTH || /[\s?#]/.test(url)) return false;
  try {
    const parsed = new URL(url);
    return (
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.hostname !== '' &&
      parsed.username === '' &&
      parsed.password === ''
    );
  } catch {
    return false;
  }
}

/** What is wrong with the form, by field; empty when it may be saved. */
export function validateSettingsForm(form: SettingsForm): FieldErrors {
  const errors: FieldErrors = {};
  const m = form.model;
  if (!m.useDefault) {
    const model = m.model.trim();
    if (model === '') errors.model = 'Enter a model id.';
    else if (model.length > MAX_MODEL_LENGTH || !MODEL_ID.test(model)) {
      errors.model = `A model id is 1 to ${MAX_MODEL_LENGTH} characters of A-Z, a-z, 0-9 and . _ : / @ + -`;
    }
    const baseUrl = m.baseUrl.trim();
    if (m.provider === 'openai-compatible') {
      if (baseUrl === '') errors.baseUrl = 'An OpenAI-compatible provider needs its base URL.';
      else if (!validBaseUrl(baseUrl))
        errors.baseUrl = 'The base URL must be an http(s) URL without a query, e.g. https://llm.example.com/v1';
    }
    const region = m.region.trim();
    if (m.provider === 'bedrock' && region !== '' && !AWS_REGION.test(region)) {
      errors.region = 'The region must be an AWS region such as us-east-1, or empty for the deployment’s region.';
    }
  }
  const speech = form.speech;
  if (speech.provider !== 'auto') {
    const model = speech.model.trim();
    if (model !== '' && (model.length > MAX_MODEL_LENGTH || !MODEL_ID.test(model))) {
      errors.speechModel = `A model id is 1 to ${MAX_MODEL_LENGTH} characters of A-Z, a-z, 0-9 and . _ : / @ + -, or empty for the default`;
    }
    const baseUrl = speech.baseUrl.trim();
    if (speech.provider === 'openai-compatible' && !validBaseUrl(baseUrl)) {
      errors.speechBaseUrl = 'An OpenAI-compatible speech endpoint needs its base URL, e.g. https://whisper.example.com/v1';
    }
  }
  for (const provider of PROVIDERS) {
    const edit = form.keys[provider];
    if (edit.kind !== 'replace') continue;
    const key = edit.value.trim();
    if (key === '') errors[provider] = 'Enter the key, or cancel the replacement.';
    else if (key.length > MAX_API_KEY_LENGTH || !API_KEY.test(key)) {
      errors[provider] = 'An API key is up to 4,096 visible ASCII characters, without spaces.';
    }
  }
  return errors;
}

/** The model part of the request: only the fields the chosen provider takes. */
function modelOf(m: ModelForm): ModelSettings | null {
  if (m.useDefault) return null;
  const model: ModelSettings = { provider: m.provider, model: m.model.trim() };
  if (m.provider === 'openai-compatible') model.baseUrl = m.baseUrl.trim();
  if (m.provider === 'bedrock' && m.region.trim() !== '') model.region = m.region.trim();
  return model;
}

/** The speech part of the request: only the fields the chosen endpoint takes. */
function speechOf(s: SpeechForm): SpeechSettings | null {
  if (s.provider === 'auto') return null;
  const speech: SpeechSettings = { provider: s.provider };
  if (s.model.trim() !== '') speech.model = s.model.trim();
  if (s.provider === 'openai-compatible') speech.baseUrl = s.baseUrl.trim();
  return speech;
}

/** The `PUT /api/settings` body for a valid form: the model and speech always, keys only where something changes. */
export function settingsUpdate(form: SettingsForm): SettingsUpdate {
  const update: SettingsUpdate = { model: modelOf(form.model), speech: speechOf(form.speech) };
  const apiKeys: Partial<Record<Provider, string | null>> = {};
  for (const provider of PROVIDERS) {
    const edit = form.keys[provider];
    if (edit.kind === 'replace') apiKeys[provider] = edit.value.trim();
    if (edit.kind === 'remove') apiKeys[provider] = null;
  }
  if (Object.keys(apiKeys).length > 0) update.apiKeys = apiKeys;
  return update;
}
