import { describe, expect, it } from 'vitest';
import type { Settings } from './protocol';
import {
  formFromSettings,
  settingsUpdate,
  unchangedKeys,
  validateSettingsForm,
  type ModelForm,
  type SettingsForm,
  type SpeechForm,
} from './settings';

const settings = (model: Settings['model'], speech: Settings['speech'] = null): Settings => ({
  model,
  speech,
  defaultModel: 'anthropic/claude-sonnet-5',
  apiKeys: { anthropic: true, openai: false, deepseek: false, bedrock: false, 'openai-compatible': false, groq: false },
  telegram: { linked: [] },
  browser: true,
});

const form = (model: Partial<ModelForm>, keys: Partial<SettingsForm['keys']> = {}, speech: Partial<SpeechForm> = {}): SettingsForm => ({
  model: { useDefault: false, provider: 'anthropic', model: 'claude-sonnet-5', baseUrl: '', region: '', ...model },
  speech: { provider: 'auto', model: '', baseUrl: '', ...speech },
  keys: { ...unchangedKeys(), ...keys },
});

describe('formFromSettings', () => {
  it('starts from the server default when no model is chosen', () => {
    expect(formFromSettings(settings(null))).toEqual({
      model: { useDefault: true, provider: 'anthropic', model: '', baseUrl: '', region: '' },
      speech: { provider: 'auto', model: '', baseUrl: '' },
      keys: unchangedKeys(),
    });
  });

  it('fills the chosen speech-to-text endpoint', () => {
    const f = formFromSettings(settings(null, { provider: 'openai-compatible', baseUrl: 'http://whisper:9000/v1' }));
    expect(f.speech).toEqual({ provider: 'openai-compatible', model: '', baseUrl: 'http://whisper:9000/v1' });
  });

  it('fills the chosen model, base URL and region; never a key', () => {
    const f = formFromSettings(settings({ provider: 'openai-compatible', model: 'llama', baseUrl: 'http://gpu:8000/v1' }));
    expect(f.model).toEqual({
      useDefault: false,
      provider: 'openai-compatible',
      model: 'llama',
      baseUrl: 'http://gpu:8000/v1',
      region: '',
    });
    expect(Object.values(f.keys).every((k) => k.kind === 'keep')).toBe(true);
  });
});

describe('validateSettingsForm', () => {
  it('accepts a valid form and the server default', () => {
    expect(validateSettingsForm(form({}))).toEqual({});
    expect(validateSettingsForm(form({ useDefault: true, model: '' }))).toEqual({});
    expect(validateSettingsForm(form({ provider: 'bedrock', model: 'us.anthropic.claude-opus-4-6-v1', region: 'eu-central-1' }))).toEqual(
      {},
    );
    expect(
      validateSettingsForm(form({ provider: 'openai-compatible', model: 'e2e-model-b', baseUrl: 'http://127.0.0.1:4000/v1' })),
    ).toEqual({});
  });

  it('asks for a model id the server accepts', () => {
    expect(validateSettingsForm(form({ model: '  ' })).model).toBe('Enter a model id.');
    expect(validateSettingsForm(form({ model: 'gpt 5' })).model).toMatch(/^A model id is 1 to 128 characters/);
    expect(validateSettingsForm(form({ model: 'a'.repeat(129) })).model).toMatch(/^A model id/);
  });

  it('requires an http(s) base URL for an OpenAI-compatible provider only', () => {
    expect(validateSettingsForm(form({ provider: 'openai-compatible', baseUrl: '' })).baseUrl).toBe(
      'An OpenAI-compatible provider needs its base URL.',
    );
    for (const bad of ['ftp://x/v1', 'http://x/v1?key=1', 'not a url', 'http://user:pw@x/v1']) {
      expect(validateSettingsForm(form({ provider: 'openai-compatible', baseUrl: bad })).baseUrl).toMatch(/^The base URL must be/);
    }
    // Left over from switching providers: ignored, and not sent.
    expect(validateSettingsForm(form({ provider: 'openai', baseUrl: 'junk' }))).toEqual({});
  });

  it('checks the Bedrock region only when one is given', () => {
    expect(validateSettingsForm(form({ provider: 'bedrock', region: 'Frankfurt' })).region).toMatch(/AWS region/);
    expect(validateSettingsForm(form({ provider: 'bedrock', region: '' }))).toEqual({});
  });

  it('requires a replacement key of visible ASCII characters', () => {
    expect(validateSettingsForm(form({}, { openai: { kind: 'replace', value: ' ' } })).openai).toBe(
      'Enter the key, or cancel the replacement.',
    );
    expect(validateSettingsForm(form({}, { openai: { kind: 'replace', value: 'sk a' } })).openai).toMatch(/visible ASCII/);
    expect(validateSettingsForm(form({}, { openai: { kind: 'replace', value: 'sk-é' } })).openai).toMatch(/visible ASCII/);
    expect(validateSettingsForm(form({}, { openai: { kind: 'replace', value: ' sk-1 ' }, deepseek: { kind: 'remove' } }))).toEqual({});
  });
});

describe('settingsUpdate', () => {
  it('sends null for the server default and no keys when none changed', () => {
    expect(settingsUpdate(form({ useDefault: true, model: 'left over' }))).toEqual({ model: null, speech: null });
  });

  it('sends only the fields of the chosen provider, trimmed', () => {
    expect(settingsUpdate(form({ provider: 'openai', model: ' gpt-5.5 ', baseUrl: 'x', region: 'y' }))).toEqual({
      model: { provider: 'openai', model: 'gpt-5.5' },
      speech: null,
    });
    expect(settingsUpdate(form({ provider: 'openai-compatible', model: 'e2e-model-b', baseUrl: ' http://h/v1 ', region: 'y' }))).toEqual({
      model: { provider: 'openai-compatible', model: 'e2e-model-b', baseUrl: 'http://h/v1' },
      speech: null,
    });
    expect(settingsUpdate(form({ provider: 'bedrock', model: 'm', region: 'us-west-2' }))).toEqual({
      model: { provider: 'bedrock', model: 'm', region: 'us-west-2' },
      speech: null,
    });
    expect(settingsUpdate(form({ provider: 'bedrock', model: 'm', region: '' }))).toEqual({
      model: { provider: 'bedrock', model: 'm' },
      speech: null,
    });
  });

  it('stores a new key, removes one and leaves the others out', () => {
    expect(
      settingsUpdate(form({}, { 'openai-compatible': { kind: 'replace', value: ' sk-e2e ' }, anthropic: { kind: 'remove' } })),
    ).toEqual({
      model: { provider: 'anthropic', model: 'claude-sonnet-5' },
      speech: null,
      apiKeys: { anthropic: null, 'openai-compatible': 'sk-e2e' },
    });
  });
});

describe('speech settings', () => {
  it('sends null for automatic, and only the fields the endpoint takes', () => {
    expect(settingsUpdate(form({})).speech).toBeNull();
    expect(settingsUpdate(form({}, {}, { provider: 'groq', model: ' ', baseUrl: 'http://ignored' })).speech).toEqual({ provider: 'groq' });
    expect(
      settingsUpdate(form({}, {}, { provider: 'openai-compatible', model: 'whisper-1', baseUrl: ' http://gpu:9000/v1 ' })).speech,
    ).toEqual({ provider: 'openai-compatible', model: 'whisper-1', baseUrl: 'http://gpu:9000/v1' });
  });

  it('needs a base URL for a compatible endpoint and a clean model id', () => {
    expect(validateSettingsForm(form({}, {}, { provider: 'openai-compatible' }))).toHaveProperty('speechBaseUrl');
    expect(validateSettingsForm(form({}, {}, { provider: 'openai', model: 'a b' }))).toHaveProperty('speechModel');
    expect(validateSettingsForm(form({}, {}, { provider: 'openai', model: '' }))).toEqual({});
  });
});
