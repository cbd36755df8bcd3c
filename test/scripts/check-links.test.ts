/**
 * The documentation site: the link checker (`scripts/check-links.ts`) finds what it should
 * on a small hand-made site, and the real typedoc build (API and guides) has no warning and
 * no broken internal link.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorsOf, checkLinks, linksOf } from '../../scripts/check-links.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('check-links', () => {
  it('reads links and anchors from markup, entities undone', () => {
    expect(linksOf(`<a href="a.html#x">a</a><img src='m/p.svg'><a class="x" href="b.html?q=1&amp;r=2">`)).toEqual(['a.html#x', 'm/p.svg', 'b.html?q=1&r=2']);
    expect([...anchorsOf(`<h2 id="one">1</h2><a name="two"></a><svg><symbol id="icon"/></svg>`)]).toEqual(['one', 'two', 'icon']);
  });

  it('reports missing files, missing anchors and links leaving the site, and nothing else', () => {
    const site = tempDir('links-');
    mkdirSync(join(site, 'docs'));
    mkdirSync(join(site, 'media'));
    writeFileSync(join(site, 'index.html'), '<h1 id="top">x</h1><a href="docs/">dir</a>');
    writeFileSync(join(site, 'media', 'fig.svg'), '<svg><g id="part"/></svg>');
    writeFileSync(join(site, 'docs', 'index.html'), '<a href="../index.html#top">ok</a>');
    writeFileSync(
      join(site, 'docs', 'page.html'),
      [
        '<h2 id="here">h</h2>',
        '<a href="#here">same page</a>',
        '<a href="">self</a>',
        '<a href="../index.html#top">ok</a>',
        '<img src="../media/fig.svg">',
        '<a href="../media/fig.svg#part">svg part</a>',
        '<a href="page%20two.html">encoded</a>',
        '<a href="https://example.com/nowhere.html">external</a>',
        '<a href="mailto:someone@example.com">mail</a>',
        '<a href="#gone">missing anchor</a>',
        '<a href="../index.html#nope">missing anchor elsewhere</a>',
        '<a href="missing.html">missing file</a>',
        '<img src="../media/none.svg">',
        '<a href="../../outside.html">outside</a>',
      ].join('\n'),
    );
    writeFileSync(join(site, 'docs', 'page two.html'), '<p>two</p>');
    const report = checkLinks(site);
    expect(report.pages).toBe(4);
    expect(report.broken).toEqual([
      { page: 'docs/page.html', url: '#gone', reason: 'no id "gone" in docs/page.html' },
      { page: 'docs/page.html', url: '../index.html#nope', reason: 'no id "nope" in index.html' },
      { page: 'docs/page.html', url: 'missing.html', reason: 'no file docs/missing.html' },
      { page: 'docs/page.html', url: '../media/none.svg', reason: 'no file media/none.svg' },
      { page: 'docs/page.html', url: '../../outside.html', reason: 'points outside the site' },
    ]);
  });
});

describe('documentation site', () => {
  // One full build (about 25 s): the API pages and the guides, as `npm run docs` makes them.
  const out = tempDir('docs-site-');

  it('builds with typedoc with no warnings (every export documented, every {@link} resolved)', () => {
    const log = execFileSync('npx', ['typedoc', '--out', out, '--logLevel', 'Warn'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
    expect(log.replace(/npm warn .*\n/g, '').trim()).toBe('');
  });

  it('holds every guide and the pipeline figure', () => {
    const config = JSON.parse(readFileSync(join(REPO_ROOT, 'typedoc.json'), 'utf8')) as { projectDocuments: string[] };
    for (const guide of config.projectDocuments) {
      const title = /^title: (.+)$/m.exec(readFileSync(join(REPO_ROOT, guide), 'utf8'))![1]!;
      expect(existsSync(join(out, 'documents', `${title.replaceAll(' ', '_')}.html`)), guide).toBe(true);
    }
    expect(readFileSync(join(out, 'documents', 'The_pipeline_explained.html'), 'utf8')).toContain('src="../media/pipeline.svg"');
    expect(existsSync(join(out, 'media', 'pipeline.svg'))).toBe(true);
  });

  it('has no broken internal link or anchor', () => {
    const report = checkLinks(out);
    expect(report.pages).toBeGreaterThan(100);
    expect(report.links).toBeGreaterThan(1000);
    expect(report.broken).toEqual([]);
  });
});
