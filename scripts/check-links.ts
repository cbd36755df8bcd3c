/**
 * Checks every internal link of a built HTML site (the typedoc output in `docs/site/`): each
 * relative `href` and `src` must resolve to a file inside the site, and each `#fragment` to an
 * `id` (or `name`) in the target page or SVG. External URLs (`https:`, `mailto:`, …) are not
 * fetched.
 *
 * ```sh
 * npm run docs && npx tsx scripts/check-links.ts [docs/site]   # exit 1 and a list when broken
 * ```
 *
 * `test/scripts/check-links.test.ts` builds the site and runs this over it.
 *
 * @packageDocumentation
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A link that does not resolve. */
export interface BrokenLink {
  /** The page holding the link, relative to the site root. */
  readonly page: string;
  /** The link as written. */
  readonly url: string;
  /** What is wrong with it. */
  readonly reason: string;
}

/** The result of {@link checkLinks}. */
export interface LinkReport {
  /** Pages read. */
  readonly pages: number;
  /** Internal links checked (external ones are counted out). */
  readonly links: number;
  /** The ones that do not resolve. */
  readonly broken: BrokenLink[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

/** Undoes the HTML entity escapes that can appear in attribute values. */
function unescapeAttribute(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|apos|#39);/g, (_, name: string) => ENTITIES[name]!);
}

/** Every `.html` file under `dir`, recursively. */
function htmlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...htmlFiles(path));
    else if (entry.name.endsWith('.html')) out.push(path);
  }
  return out;
}

/** `href` and `src` attribute values, in order. */
export function linksOf(html: string): string[] {
  return [...html.matchAll(/\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => unescapeAttribute(m[1] ?? m[2] ?? ''));
}

/** `id` and `name` attribute values. */
export function anchorsOf(markup: string): Set<string> {
  return new Set([...markup.matchAll(/\s(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => unescapeAttribute(m[1] ?? m[2] ?? '')));
}

/**
 * Checks the internal links of every HTML page under `root`.
 *
 * @param root - the site directory.
 * @returns the pages and links checked and the broken ones.
 */
export function checkLinks(root: string): LinkReport {
  const site = resolve(root);
  const anchors = new Map<string, Set<string>>();
  const anchorsIn = (file: string): Set<string> => {
    let set = anchors.get(file);
    if (set === undefined) {
      set = anchorsOf(readFileSync(file, 'utf8'));
      anchors.set(file, set);
    }
    return set;
  };
  const broken: BrokenLink[] = [];
  const pages = htmlFiles(site);
  let links = 0;
  for (const page of pages) {
    const name = relative(site, page).split(sep).join('/');
    for (const url of linksOf(readFileSync(page, 'utf8'))) {
      // External (any scheme, or protocol-relative): not checked.
      if (/^[a-z][a-z\d+.-]*:/i.test(url) || url.startsWith('//')) continue;
      links++;
      const hash = url.indexOf('#');
      const pathPart = (hash < 0 ? url : url.slice(0, hash)).replace(/\?.*$/, '');
      const fragment = hash < 0 ? '' : url.slice(hash + 1);
      let target = page;
      if (pathPart !== '') {
        let decoded: string;
        try {
          decoded = decodeURIComponent(pathPart);
        } catch {
          broken.push({ page: name, url, reason: 'malformed percent-encoding' });
          continue;
        }
        target = decoded.startsWith('/') ? join(site, decoded) : resolve(dirname(page), decoded);
        if (target !== site && !target.startsWith(site + sep)) {
          broken.push({ page: name, url, reason: 'points outside the site' });
          continue;
        }
        if (existsSync(target) && statSync(target).isDirectory()) target = join(target, 'index.html');
        if (!existsSync(target)) {
          broken.push({ page: name, url, reason: `no file ${relative(site, target).split(sep).join('/')}` });
          continue;
        }
      }
      if (fragment === '' || !/\.(html|svg)$/i.test(target)) continue;
      let id: string;
      try {
        id = decodeURIComponent(fragment);
      } catch {
        id = fragment;
      }
      if (!anchorsIn(target).has(id)) {
        broken.push({ page: name, url, reason: `no id ${JSON.stringify(id)} in ${relative(site, target).split(sep).join('/')}` });
      }
    }
  }
  return { pages: pages.length, links, broken };
}

function main(): void {
  const root = process.argv[2] ?? 'docs/site';
  const { pages, links, broken } = checkLinks(root);
  for (const b of broken) console.error(`${b.page}: ${b.url}: ${b.reason}`);
  console.log(`${pages} pages, ${links} internal links, ${broken.length} broken`);
  process.exitCode = broken.length === 0 && pages > 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
