// The settings form: small model, PRM, remote model and key, policy. Every field is a text spec the
// URL understands too; presets only fill the text in.

import { errorMessage } from '../../core/errors.ts';
import { policyEntry, policyNames } from '../../core/policies/index.ts';
import type { WorkerStatus } from '../../backends/worker-client.ts';
import type { Capabilities } from '../capabilities.ts';
import type { ModelRole } from '../models.ts';
import { byId, formatBytes, h } from '../dom.ts';
import { PRM_PRESETS, fitsDevice, weakPresets } from '../presets.ts';
import {
  CONTINUATION_MODES,
  DEVICE_CHOICES,
  checkBundleUrl,
  checkPolicy,
  checkRemoteBase,
  formatPrmSpec,
  formatWeakSpec,
  parseMode,
  parsePrmSpec,
  parseStrongSpec,
  parseWeakSpec,
  type DeviceChoice,
  type Settings,
} from '../settings.ts';

export interface SettingsSubmit {
  settings: Settings;
  /** A new key typed in the form for the submitted remote (null: leave its stored key as it is). */
  apiKey: string | null;
  remember: boolean;
}

/** Whether a key is stored for a remote base URL (keys belong to one origin each: secrets.ts). */
export type KeyInfo = (baseUrl: string) => { has: boolean; remembered: boolean };

const CUSTOM = 'custom';
const ROLE_NAMES: Record<ModelRole, string> = { weak: 'Small model', prm: 'PRM', strong: 'Strong model' };

export class SettingsView {
  private readonly form = byId<HTMLFormElement>('settings-form');
  private readonly errors = byId('settings-errors');
  private files = new Map<string, { loaded: number; total: number }>();
  /** Fields the form does not show are carried over from the settings it was last filled with. */
  private current!: Settings;

  constructor(
    private readonly caps: Capabilities,
    private readonly keyInfo: KeyInfo,
    private readonly onSubmit: (s: SettingsSubmit) => void,
  ) {
    const weakSelect = byId<HTMLSelectElement>('weak-preset');
    weakSelect.replaceChildren(
      ...weakPresets(caps).map((p) =>
        h('option', { value: formatWeakSpec(p.spec) }, p.label + (p.sizeMB ? ` · ~${p.sizeMB} MB` : '') + (fitsDevice(p, caps) ? '' : ' · may not fit this device')),
      ),
      h('option', { value: CUSTOM }, 'Custom (type below)'),
    );
    byId<HTMLSelectElement>('prm-preset').replaceChildren(
      ...PRM_PRESETS.map((p) => h('option', { value: formatPrmSpec(p.spec) }, p.label)),
      h('option', { value: CUSTOM }, 'Custom (type below)'),
    );
    byId<HTMLSelectElement>('device').replaceChildren(...DEVICE_CHOICES.map((d) => h('option', { value: d }, d === 'auto' ? 'Automatic' : d === 'webgpu' ? 'WebGPU' : 'WebAssembly (CPU)')));
    byId<HTMLSelectElement>('remote-mode').replaceChildren(...CONTINUATION_MODES.map((m) => h('option', { value: m }, m)));
    byId('policy-list').replaceChildren(...policyNames().map((n) => h('option', { value: policyEntry(n).knob ? `${n}:${policyEntry(n).knob!.default}` : n }, policyEntry(n).description)));
    this.linkPreset('weak-preset', 'weak-spec');
    this.linkPreset('prm-preset', 'prm-spec');
    // The key shown is the one of the server being typed: another server has none until one is entered.
    this.input('remote-url').addEventListener('input', () => this.showKeyStatus());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  fill(s: Settings): void {
    this.current = s;
    this.setSpec('weak-preset', 'weak-spec', formatWeakSpec(s.weak));
    this.setSpec('prm-preset', 'prm-spec', formatPrmSpec(s.prm));
    this.input('device').value = s.device;
    this.input('remote-url').value = s.remote?.baseUrl ?? '';
    this.input('remote-model').value = s.remote?.model ?? '';
    this.input('remote-mode').value = s.remote?.mode ?? 'continue';
    this.input('strong-spec').value = s.strongLocal ? `tjs:${s.strongLocal}` : '';
    this.input('api-key').value = '';
    this.showKeyStatus();
    this.input('policy').value = s.policy;
    byId<HTMLInputElement>('confirm-remote').checked = s.confirmRemote;
    this.input('budget').value = s.budget === null ? '' : String(s.budget);
    this.input('bundle').value = s.bundle ?? '';
    this.input('max-steps').value = String(s.maxSteps);
    this.input('max-step-tokens').value = String(s.maxStepTokens);
  }

  /** The remote base URL typed in the form, if it is a URL (whether or not it was applied). */
  remoteEntered(): string | null {
    try {
      return new URL(this.input('remote-url').value.trim()).href;
    } catch {
      return null;
    }
  }

  /** Says whether a key is stored for the remote currently entered, and for which host. */
  showKeyStatus(): void {
    const url = this.remoteEntered();
    const info = url ? this.keyInfo(url) : { has: false, remembered: false };
    const host = url ? new URL(url).host : '';
    this.input('api-key').placeholder = info.has ? `A key is set for ${host} (type to replace it)` : 'Optional';
    byId<HTMLInputElement>('remember-key').checked = info.remembered;
    byId('key-status').textContent = !url
      ? ''
      : info.has
        ? `A key is set for ${host}${info.remembered ? ', remembered in this browser' : ' for this visit'}. It is sent to ${host} only.`
        : `No API key for ${host}: requests go without one. A key entered here is sent to ${host} only.`;
  }

  /** Shows a model's loading state and download progress with sizes. */
  showStatus(role: ModelRole, s: WorkerStatus): void {
    const line = byId(`${role}-status`);
    const bar = byId<HTMLProgressElement>(`${role}-progress`);
    const name = ROLE_NAMES[role];
    if (s.type === 'loading') {
      this.files = new Map();
      line.textContent = `${name}: loading…`;
      bar.hidden = false;
      bar.removeAttribute('value');
    } else if (s.type === 'progress') {
      const p = s.progress;
      if (p.text) {
        // WebLLM reports its own text, sizes included.
        line.textContent = `${name}: ${p.text}`;
        bar.value = p.total ? p.loaded / p.total : 0;
        return;
      }
      if (p.file) this.files.set(`${role}:${p.file}`, { loaded: p.loaded, total: p.total });
      const mine = [...this.files].filter(([k]) => k.startsWith(role + ':')).map(([, v]) => v);
      const loaded = mine.reduce((a, f) => a + f.loaded, 0);
      const total = mine.reduce((a, f) => a + f.total, 0);
      line.textContent = `${name}: downloading ${p.file ?? ''} — ${formatBytes(loaded)} of ${formatBytes(total)}`;
      bar.max = 1;
      bar.value = total ? loaded / total : 0;
    } else if (s.type === 'ready') {
      line.textContent = `${name}: ready — ${s.description}`;
      bar.hidden = true;
    } else if (s.type === 'lost') {
      line.textContent = `${name}: ${s.reason}`;
    } else {
      line.textContent = `${name}: failed — ${s.message}`;
      bar.hidden = true;
    }
  }

  private submit(): void {
    const problems: string[] = [];
    const attempt = <T>(f: () => T): T | undefined => {
      try {
        return f();
      } catch (err) {
        problems.push(errorMessage(err));
        return undefined;
      }
    };
    const weak = attempt(() => parseWeakSpec(this.input('weak-spec').value));
    const prm = attempt(() => parsePrmSpec(this.input('prm-spec').value));
    const url = this.input('remote-url').value.trim();
    const model = this.input('remote-model').value.trim();
    const remote = url
      ? attempt(() => {
          if (!model) throw new Error('Give the remote model name (the name the server serves).');
          return { baseUrl: checkRemoteBase(url), model, mode: parseMode(this.input('remote-mode').value) };
        })
      : null;
    const strongText = this.input('strong-spec').value.trim();
    // Naming a new remote means using it: unless the strong model field was edited too, the remote
    // writes the strong steps (the offline demo's strong model on the device would otherwise win).
    const strongShown = this.current.strongLocal ? `tjs:${this.current.strongLocal}` : '';
    const remoteIsNew = !!remote && remote.baseUrl !== this.current.remote?.baseUrl;
    const strongLocal = remoteIsNew && strongText === strongShown ? null : attempt(() => (strongText ? parseStrongSpec(strongText) : null));
    const policy = attempt(() => checkPolicy(this.input('policy').value));
    const budgetText = this.input('budget').value.trim();
    const budget = attempt(() => (budgetText === '' ? null : share(budgetText)));
    const bundleText = this.input('bundle').value.trim();
    const bundle = attempt(() => (bundleText === '' ? null : checkBundleUrl(bundleText)));
    const maxSteps = attempt(() => whole(this.input('max-steps').value, 'Maximum steps', 1, 100));
    const maxStepTokens = attempt(() => whole(this.input('max-step-tokens').value, 'Maximum tokens per step', 1, 8192));
    if (this.input('api-key').value.trim() && !url) problems.push('An API key belongs to one server: enter the remote server base URL it is for.');
    this.errors.replaceChildren(...problems.map((p) => h('p', {}, p)));
    if (problems.length || !weak || !prm || remote === undefined || !policy || strongLocal === undefined || budget === undefined || bundle === undefined || !maxSteps || !maxStepTokens) return;
    const key = this.input('api-key').value;
    this.onSubmit({
      settings: {
        ...this.current,
        weak,
        prm,
        remote,
        strongLocal,
        policy,
        device: this.input('device').value as DeviceChoice,
        confirmRemote: byId<HTMLInputElement>('confirm-remote').checked,
        budget,
        bundle,
        maxSteps,
        maxStepTokens,
      },
      apiKey: key ? key : null,
      remember: byId<HTMLInputElement>('remember-key').checked,
    });
    this.input('api-key').value = '';
  }

  private linkPreset(selectId: string, specId: string): void {
    const select = byId<HTMLSelectElement>(selectId);
    const spec = this.input(specId);
    select.addEventListener('change', () => {
      if (select.value !== CUSTOM) spec.value = select.value;
      else spec.focus();
    });
    spec.addEventListener('input', () => {
      select.value = [...select.options].some((o) => o.value === spec.value) ? spec.value : CUSTOM;
    });
  }

  private setSpec(selectId: string, specId: string, value: string): void {
    this.input(specId).value = value;
    const select = byId<HTMLSelectElement>(selectId);
    select.value = [...select.options].some((o) => o.value === value) ? value : CUSTOM;
  }

  private input(id: string): HTMLInputElement {
    return byId<HTMLInputElement>(id);
  }
}

function share(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new Error(`Budget: expected a percentage from 0 to 100, or nothing.`);
  return n;
}

function whole(v: string, what: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what}: expected a whole number from ${min} to ${max}.`);
  return n;
}
