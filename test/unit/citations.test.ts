/**
 * Citations stay inside the repository: every `§` the code and docs cite exists in docs/protocol.md,
 * and nothing points at documents a clone does not have.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url);
const SELF = 'test/unit/citations.test.ts';
const SCANNED = ['src', 'docs', 'test', 'bench', 'scripts', 'README.md'];
const TEXT_FILE = /\.(?:ts|js|mjs|cjs|md|json|sql|ya?ml|sh|txt)$/;

const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

/** Repository-relative paths of the text files under `entry` (a folder or a file). */
function filesUnder(entry: string): string[] {
  if (TEXT_FILE.test(entry)) return [entry];
  return readdirSync(new URL(`${entry}/`, ROOT), { withFileTypes: true }).flatMap((dirent) => {
    const path = `${entry}/${dirent.name}`;
    if (dirent.isDirectory()) return dirent.name === 'node_modules' ? [] : filesUnder(path);
    return TEXT_FILE.test(dirent.name) ? [path] : [];
  });
}

interface Line {
  where: string;
  text: string;
}

const LINES: Line[] = SCANNED.flatMap(filesUnder)
  .filter((file) => file !== SELF)
  .sort()
  .flatMap((file) =>
    read(file)
      .split('\n')
      .map((text, i) => ({ where: `${file}:${i + 1}`, text })),
  );

/**
 * What docs/protocol.md defines: numbered headings (`## 4.`, `### 4.2 …`, `### 13.1 …`), appendices
 * (`## Appendix A. …`) and the items of §10 (`- **10.27** …`).
 */
function protocolAnchors(doc: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of doc.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.?\s/gm)) anchors.add(m[1]!);
  for (const m of doc.matchAll(/^## (Appendix [A-Z])\b/gm)) anchors.add(m[1]!);
  for (const m of doc.matchAll(/^- \*\*(10\.\d+)\*\*/gm)) anchors.add(m[1]!);
  return anchors;
}

/**
 * The citations on one line that refer to docs/protocol.md. A `§X` (or `Appendix X`) belongs to the
 * nearest document named before it on the same line:
 * - a name ending in `protocol.md` (`docs/protocol.md`; until the old citations are rewritten also their
 *   outside name, which keeps the same numbers) makes it a protocol citation;
 * - any other name (`configuration.md`, or an outside document such as `stack-notes` or `style.md`, which
 *   the second test forbids anyway) means it cites that document, not this one.
 * With no document named before it, `decision §X` and a bare `§X` are protocol citations: the protocol
 * document is the only numbered document the project cites, and files that cite bare numbers name it in
 * their header. `Appendix X` only counts after a protocol.md name, since "appendix" in prose may mean
 * anything.
 */
function protocolCitations(text: string): string[] {
  const tokens = [
    ...text.matchAll(
      /(?<doc>[\w./-]*\.md\b|\bstack-notes\b)|§(?<section>[0-9A-Za-z][0-9A-Za-z.]*)|(?<appendix>Appendix [A-Z])\b/g,
    ),
  ];
  const cited: string[] = [];
  let doc: string | undefined;
  for (const { groups } of tokens) {
    if (groups?.doc) doc = groups.doc;
    else if (groups?.section && (doc === undefined || doc.endsWith('protocol.md'))) {
      cited.push(groups.section.replace(/\.+$/, ''));
    } else if (groups?.appendix && doc?.endsWith('protocol.md')) cited.push(groups.appendix);
  }
  return cited;
}

describe('citations', () => {
  const anchors = protocolAnchors(read('docs/protocol.md'));

  it('docs/protocol.md numbers the items of §10 and §13 without gaps', () => {
    for (const section of ['10', '13']) {
      const numbers = [...anchors]
        .filter((a) => a.startsWith(`${section}.`))
        .map((a) => Number(a.slice(section.length + 1)))
        .sort((a, b) => a - b);
      assert.ok(numbers.length > 0, `§${section} has items`);
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => i + 1),
        `§${section} items`,
      );
    }
  });

  it('every § citation of the protocol resolves to a section or item of docs/protocol.md', () => {
    const unresolved = LINES.flatMap(({ where, text }) =>
      protocolCitations(text)
        .filter((cited) => !anchors.has(cited))
        .map((cited) => `${where}: ${cited.startsWith('Appendix') ? cited : `§${cited}`}`),
    );
    assert.deepEqual(unresolved, [], `citations docs/protocol.md does not define:\n${unresolved.join('\n')}`);
  });

  it('nothing cites documents outside the repository', () => {
    const outside = /dji-protocol\.md|shared\/spec|stack-notes|\bstyle\.md/;
    const offending = LINES.filter(({ text }) => outside.test(text)).map(
      ({ where, text }) => `${where}: ${text.trim()}`,
    );
    assert.equal(
      offending.length,
      0,
      `${offending.length} lines cite documents a clone does not have (cite docs/protocol.md instead):\n` +
        offending.join('\n'),
    );
  });
});
