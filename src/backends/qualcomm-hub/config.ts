/**
 * Where the AI Hub client finds its API token and URLs: options, the environment, or the
 * `qai-hub` client's own configuration file (`~/.qai_hub/client.ini`, as written by
 * `qai-hub configure --api_token …`). Node only.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { QualcommHubError } from './errors.js';

/** AI Hub's API and web address (qai-hub 0.42.0 `DEFAULT_HUB_API_URL`). */
export const DEFAULT_HUB_URL = 'https://workbench.aihub.qualcomm.com';

/** Environment variable holding an API token (a common convention; the Python client reads only its file). */
export const HUB_TOKEN_ENV = 'QAIHUB_API_TOKEN';

/** Environment variable holding the path of the client configuration file (as the Python client). */
export const HUB_CLIENT_INI_ENV = 'QAIHUB_CLIENT_INI';

/** Options that say where to find the token and URLs. */
export interface HubConfigOptions {
  /**
   * The API token.
   * @defaultValue `QAIHUB_API_TOKEN`, else `api_token` of the configuration file
   */
  readonly token?: string | undefined;
  /**
   * The API's base URL.
   * @defaultValue `api_url` of the configuration file, else {@link DEFAULT_HUB_URL}
   */
  readonly apiUrl?: string | undefined;
  /**
   * The web site's base URL (for job links in messages).
   * @defaultValue `web_url` of the configuration file, else the API URL
   */
  readonly webUrl?: string | undefined;
  /**
   * The configuration file.
   * @defaultValue `QAIHUB_CLIENT_INI`, else `~/.qai_hub/<profile>.ini`
   */
  readonly configFile?: string | undefined;
  /**
   * The profile: `~/.qai_hub/<profile>.ini` (the Python CLI's `--profile`).
   * @defaultValue `'client'`
   */
  readonly profile?: string | undefined;
  /**
   * The environment to read.
   * @defaultValue `process.env`
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** The resolved configuration. */
export interface HubConfig {
  /** The API token. Keep it out of logs. */
  readonly token: string;
  /** The API's base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** The web site's base URL, without a trailing slash. */
  readonly webUrl: string;
  /** Where the token came from: `'options'`, `'environment'` or the configuration file's path. */
  readonly tokenSource: string;
}

/**
 * Parses an INI file as Python's `configparser` reads the client's file: `[section]`
 * headers, `key = value` or `key: value`, `#`/`;` comment lines; keys are lower-cased.
 *
 * @param text - the file's text.
 * @returns values by section and key.
 */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      section = out[header[1]!.trim()] ??= {};
      continue;
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (m !== null && section !== undefined) section[m[1]!.toLowerCase()] = m[2]!;
  }
  return out;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * Resolves the token and URLs: options first, then the environment, then the configuration
 * file.
 *
 * @param options - explicit values and where to look.
 * @returns the token, URLs and the token's source.
 * @throws QualcommHubError `ERR_HUB_AUTH` when no token is found, naming the places looked at.
 */
export function resolveHubConfig(options: HubConfigOptions = {}): HubConfig {
  const env = options.env ?? process.env;
  const profile = options.profile ?? 'client';
  if (!/^[\w.-]+$/.test(profile)) throw new RangeError(`profile (${JSON.stringify(profile)}) must be a plain file name`);
  const file = options.configFile ?? env[HUB_CLIENT_INI_ENV] ?? join(homedir(), '.qai_hub', `${profile}.ini`);
  let api: Record<string, string> = {};
  let fileState = 'not found';
  try {
    api = parseIni(readFileSync(file, 'utf8')).api ?? {};
    fileState = api.api_token === undefined || api.api_token === '' ? 'has no api_token in [api]' : 'read';
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') fileState = `unreadable (${(e as Error).message})`;
  }
  let token: string | undefined;
  let tokenSource: string;
  if (options.token !== undefined && options.token !== '') {
    token = options.token;
    tokenSource = 'options';
  } else if (env[HUB_TOKEN_ENV] !== undefined && env[HUB_TOKEN_ENV] !== '') {
    token = env[HUB_TOKEN_ENV];
    tokenSource = 'environment';
  } else {
    token = api.api_token;
    tokenSource = file;
  }
  if (token === undefined || token === '') {
    throw new QualcommHubError(
      'ERR_HUB_AUTH',
      `no Qualcomm AI Hub API token: none in the options, ${HUB_TOKEN_ENV} is not set, and ${JSON.stringify(file)} is ${fileState}. ` +
        'Pass { token }, set QAIHUB_API_TOKEN, or run `qai-hub configure --api_token <token>`',
    );
  }
  const apiUrl = trimSlash(options.apiUrl ?? api.api_url ?? DEFAULT_HUB_URL);
  const webUrl = trimSlash(options.webUrl ?? api.web_url ?? apiUrl);
  return { token, apiUrl, webUrl, tokenSource };
}
