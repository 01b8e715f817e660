// Settings kept between visits (localStorage) and the id of this tab's session (sessionStorage, so a
// reload stays in the same session). The API key is not part of the settings: see secrets.ts.

import { errorMessage } from '../core/errors.ts';
import { readUrlConfig, settingsToQuery } from './url-config.ts';
import type { Settings } from './settings.ts';

const SETTINGS_KEY = 'trim.settings';
const SESSION_KEY = 'trim.session';
const AGREED_KEY = 'trim.linkOrigins';

/** Stored settings on top of `base`; they are kept as a query string so they pass the same checks as a link. */
export function loadStoredSettings(base: Settings): Settings {
  try {
    const stored = localStorage.getItem(SETTINGS_KEY);
    if (!stored) return base;
    return readUrlConfig(stored, base).settings;
  } catch (err) {
    console.warn('Stored settings were ignored:', errorMessage(err));
    return base;
  }
}

export function saveSettings(s: Settings): void {
  try {
    localStorage.setItem(SETTINGS_KEY, settingsToQuery(s));
  } catch {
    // Private browsing without storage: settings last for this visit only.
  }
}

/** Origins the user agreed, from a link, to send to or fetch from (link-guard.ts); remembered like a site permission. */
export function agreedOrigins(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(AGREED_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((o): o is string => typeof o === 'string') : [];
  } catch {
    return [];
  }
}

export function addAgreedOrigins(origins: readonly string[]): void {
  try {
    localStorage.setItem(AGREED_KEY, JSON.stringify([...new Set([...agreedOrigins(), ...origins])]));
  } catch {
    // No storage: the agreement lasts for this visit only.
  }
}

export function forgetAgreedOrigins(): void {
  try {
    localStorage.removeItem(AGREED_KEY);
  } catch {
    // Nothing was stored.
  }
}

export function sessionId(): string {
  try {
    const id = sessionStorage.getItem(SESSION_KEY) ?? crypto.randomUUID();
    sessionStorage.setItem(SESSION_KEY, id);
    return id;
  } catch {
    return crypto.randomUUID();
  }
}
