// Target lists (-f FILE, -f -): one spec per line, comments and blank lines skipped, mistakes
// named by file and line. Parse-only.
import { Readable } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseTargetLines, readTargetFile } from '../../src/cli/target-file.js';
import { UsageError } from '../../src/cli/usage-error.js';

const parses = test.macro({
  exec(t, content: string, texts: string[]) {
    t.deepEqual(parseTargetLines(content, 'list.txt').map((s) => s.text), texts);
  },
  title: (what = '') => `parses ${what}`,
});
test('one per line', parses, '198.18.0.2:80\n198.18.0.3:80\n', ['198.18.0.2:80', '198.18.0.3:80']);
test('comments and blank lines', parses, '# web\n\n198.18.0.2:80  # primary\n   \n\t# nothing\n[2001:2::2]:22', ['198.18.0.2:80', '[2001:2::2]:22']);
test('CRLF line ends and surrounding blanks', parses, '  198.18.0.2:80\r\n198.18.0.0/30:22,80 \r\n', ['198.18.0.2:80', '198.18.0.0/30:22,80']);
test('an empty file', parses, '', []);
test('only comments', parses, '# a\n#b\n', []);
test('no final newline', parses, 'db.example:5432', ['db.example:5432']);

const rejects = test.macro({
  exec(t, content: string, message: RegExp) {
    t.throws(() => parseTargetLines(content, 'list.txt'), { instanceOf: UsageError, message });
  },
  title: (what = '') => `rejects ${what}`,
});
test('a bad port, with its line number', rejects, '# header\n198.18.0.2:80\n\n198.18.0.2:0\n', /^list\.txt:4: invalid port 0/);
test('two targets on one line', rejects, '198.18.0.2:80 198.18.0.3:80', /^list\.txt:1: one target per line/);
test('a malformed block', rejects, '198.18.0.1/24:80', /^list\.txt:1: invalid target .* has host bits set/);

test('-f - reads standard input', async (t) => {
  const specs = await readTargetFile('-', Readable.from(['198.18.0.2:80\n# x\n', '198.18.0.0/30:1\n']));
  t.deepEqual(specs.map((s) => s.text), ['198.18.0.2:80', '198.18.0.0/30:1']);
});

test('stdin mistakes are named "stdin"', async (t) => {
  await t.throwsAsync(readTargetFile('-', Readable.from(['ok.example:80\nbad:0\n'])), { message: /^stdin:2: invalid port 0/ });
});

test('a file on disk; a missing one is a usage error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-targets-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'targets.txt');
  fs.writeFileSync(file, '198.18.0.2:80\n');
  t.deepEqual((await readTargetFile(file)).map((s) => s.text), ['198.18.0.2:80']);
  await t.throwsAsync(readTargetFile(path.join(dir, 'missing.txt')), { instanceOf: UsageError, message: /cannot read target file ".*missing.txt": ENOENT/ });
});
