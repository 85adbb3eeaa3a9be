// The sealing page in headless Chromium, served by the real `kubectl-seal ui`, checked with the
// real `kubectl-seal unseal` and the independent Python implementation.
//
// Env: SEAL_BIN_DIR (default target/debug) holds kubectl-seal; SEAL_UI_URL tests a page served
// elsewhere instead (e.g. the controller's, through the API server's service proxy), which must
// serve testdata/keys/rsa4096.crt as its certificate; SEAL_UI_SCREENSHOTS=DIR
// writes the screenshots of docs/ui.md; SEAL_UI_BENCH=FILE appends the timing line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import * as format from '../../assets/format.js';

const root = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
const bin = join(resolve(root, process.env.SEAL_BIN_DIR ?? 'target/debug'), 'kubectl-seal');
const certFile = join(root, 'testdata/keys/rsa4096.crt');
const keyFile = join(root, 'testdata/keys/rsa4096.key');
const work = mkdtempSync(join(tmpdir(), 'seal-ui-'));
const shots = process.env.SEAL_UI_SCREENSHOTS;

let server;
let url;
let context;
let page;
const requests = [];
const external = [];
const problems = [];

function startServer() {
  server = spawn(bin, ['ui', '--cert', certFile, '--listen', '127.0.0.1:0', '--no-browser'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.once('exit', (code) => fail(new Error(`kubectl-seal ui exited with ${code}`)));
    createInterface({ input: server.stdout }).once('line', ok);
  });
}

before(async () => {
  url = process.env.SEAL_UI_URL ?? await startServer();
  const served = await (await fetch(new URL('../v1/cert.pem', url))).text();
  assert.equal(served.trim(), readFileSync(certFile, 'utf8').trim(),
    `${url} must seal with testdata/keys/rsa4096.crt (the checks open what it seals with its key)`);
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: process.env.SEAL_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 900 },
    acceptDownloads: true,
  });
  const origin = new URL(url).origin;
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(`${origin}/`) || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
    external.push(u);
    return route.abort();
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
});

after(async () => {
  await context?.close();
  server?.kill();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

const kubectlSeal = (args, input) => execFileSync(bin, args, { input, cwd: root }).toString();
const unseal = (text, ext = 'yaml') => {
  const file = join(work, `sealed-${Math.random().toString(36).slice(2)}.${ext}`);
  writeFileSync(file, text);
  return JSON.parse(kubectlSeal(['unseal', '--recovery-private-key', keyFile, '-o', 'json', file]));
};
const pythonOpen = (text) => JSON.parse(execFileSync('python3',
  [join(root, 'testdata/gen/sealtool.py'), 'open-sealed', '--key', keyFile], { input: text }).toString());
const b64 = (s) => Buffer.from(s).toString('base64');

async function load() {
  const response = await page.goto(url);
  await page.locator('#cert-details').waitFor({ state: 'visible' });
  return response;
}

async function fillNew({ name, namespace, scope = 'strict', type = 'Opaque', items, format = 'yaml' }) {
  await page.click('#tab-new');
  await page.fill('#name', name);
  await page.fill('#namespace', namespace);
  await page.selectOption('#scope', scope);
  await page.fill('#type', type);
  await page.evaluate(() => { document.getElementById('items').replaceChildren(); });
  for (const [i, item] of items.entries()) {
    await page.click('#add-item');
    const li = page.locator('#items > li').nth(i);
    await li.locator('.item-name').fill(item.name);
    await li.locator('.item-encoding').selectOption(item.encoding ?? 'text');
    await li.locator('.item-value').fill(item.value);
  }
  await page.check(`#format-${format}`);
}

async function sealNew(form) {
  await fillNew(form);
  await page.click('#seal');
  await page.waitForFunction(() => document.getElementById('new-output').value !== ''
    || document.getElementById('new-error').textContent !== '');
  const error = await page.textContent('#new-error');
  assert.equal(error, '', 'no error');
  return page.inputValue('#new-output');
}

const mask = (text) => text.replace(/Ag[A-Za-z0-9+/=]{600,}/g, '<sealed>');

// ---------------------------------------------------------------------------------------------

test('the page loads with a strict CSP, shows the key, and asks nothing of other hosts', async () => {
  const response = await load();
  const h = response.headers();
  const csp = h['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h['set-cookie'], undefined);
  assert.equal(await page.textContent('#cert-keyid'), readFileSync(join(root, 'testdata/keys/rsa4096.keyid'), 'utf8').trim());
  assert.equal(await page.textContent('#cert-sha256'), readFileSync(join(root, 'testdata/keys/rsa4096.sha256'), 'utf8').trim());
  assert.match(await page.textContent('#cert-expiry'), /^2125-01-01/);
  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(external, []);
  assert.deepEqual(problems, [], 'no console errors (a CSP violation would be one)');
  if (shots) await page.screenshot({ path: join(shots, 'ui-start.png'), fullPage: true });
});

for (const scope of ['strict', 'namespace-wide', 'cluster-wide']) {
  test(`sealing in scope ${scope} gives kubectl-seal's bytes, opened by kubectl-seal and Python`, async () => {
    await load();
    const items = [
      { name: 'password', value: `hunter2-${scope}` },
      { name: 'api-token', value: b64('token 12345'), encoding: 'base64' },
      { name: 'config.json', value: '{"a": "<b> & c"}\nline 2' },
    ];
    const form = { name: 'db-credentials', namespace: 'n', scope, items };
    const yaml = await sealNew(form);
    for (const opened of [unseal(yaml).data, pythonOpen(yaml)]) {
      assert.deepEqual(opened, { password: b64(`hunter2-${scope}`), 'api-token': b64('token 12345'), 'config.json': b64(items[2].value) });
    }
    const secret = JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-credentials', namespace: 'n' }, type: 'Opaque',
      stringData: { password: 'x', 'config.json': 'y' }, data: { 'api-token': b64('z') },
    });
    for (const format of ['yaml', 'json']) {
      const cli = kubectlSeal(['--cert', certFile, '--scope', scope, '-o', format], secret);
      const ui = format === 'yaml' ? yaml : await sealNew({ ...form, format });
      assert.equal(mask(ui), mask(cli), `${format} is byte for byte kubectl-seal's`);
    }
    if (shots && scope === 'strict') {
      await page.screenshot({ path: join(shots, 'ui-sealed.png'), fullPage: true });
    }
  });
}

test('a binary file dropped in as an item is sealed byte for byte', async () => {
  await load();
  await fillNew({ name: 'blob', namespace: 'default', items: [] });
  const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7 + 3) & 255));
  await page.setInputFiles('#item-files', { name: 'blob.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await page.locator('#items > li').first().waitFor();
  assert.equal(await page.inputValue('#items > li .item-name'), 'blob.bin');
  await page.click('#seal');
  await page.waitForFunction(() => document.getElementById('new-output').value !== '');
  const yaml = await page.inputValue('#new-output');
  assert.equal(unseal(yaml).data['blob.bin'], bytes.toString('base64'));
  assert.equal(pythonOpen(yaml)['blob.bin'], bytes.toString('base64'));
});

test('raw mode seals one value for each scope', async () => {
  await load();
  await page.click('#tab-raw');
  for (const scope of ['strict', 'namespace-wide', 'cluster-wide']) {
    await page.fill('#raw-name', 'app');
    await page.fill('#raw-namespace', 'prod');
    await page.selectOption('#raw-scope', scope);
    await page.fill('#raw-value', `raw value ${scope}`);
    await page.click('#raw-seal');
    await page.waitForFunction(() => document.getElementById('raw-output').value !== '');
    const value = await page.inputValue('#raw-output');
    assert.match(value, /^Ag[A-Za-z0-9+/]+=*$/);
    const annotations = scope === 'strict' ? {} : { [`sealedsecrets.bitnami.com/${scope}`]: 'true' };
    const ss = {
      apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret',
      metadata: { name: 'app', namespace: 'prod', annotations },
      spec: { template: { metadata: { name: 'app', namespace: 'prod' } }, encryptedData: { v: value } },
    };
    assert.equal(unseal(JSON.stringify(ss), 'json').data.v, b64(`raw value ${scope}`));
    assert.equal(pythonOpen(JSON.stringify(ss)).v, b64(`raw value ${scope}`));
  }
  if (shots) await page.screenshot({ path: join(shots, 'ui-raw.png'), fullPage: true });
});

for (const format of ['yaml', 'json']) {
  test(`editing a ${format} file changes only the one item`, async () => {
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: shop}\nstringData: {a: one, c: three}\n';
    const original = kubectlSeal(['--cert', certFile, '-o', format], secret);
    const file = join(work, `web.${format}`);
    writeFileSync(file, original);
    await load();
    await page.click('#tab-edit');
    await page.setInputFiles('#edit-file', file);
    await page.waitForFunction(() => document.getElementById('edit-info').textContent !== '');
    assert.match(await page.textContent('#edit-info'), /web in namespace shop, scope strict, items: a, c/);

    await page.fill('#edit-key', 'a');
    await page.fill('#edit-value', 'ONE');
    await page.click('#edit-set');
    await page.waitForFunction(() => /Replaced/.test(document.getElementById('edit-status').textContent));
    const replaced = await page.inputValue('#edit-output');
    const [before, afterLines] = [original.split('\n'), replaced.split('\n')];
    assert.equal(afterLines.length, before.length);
    assert.deepEqual(before.flatMap((l, i) => (l === afterLines[i] ? [] : [l.trim().slice(0, 4)])), [format === 'json' ? '"a":' : 'a: A']);

    await page.fill('#edit-key', 'b');
    await page.fill('#edit-value', 'TWO');
    await page.click('#edit-set');
    await page.waitForFunction(() => /Added item b/.test(document.getElementById('edit-status').textContent));
    const added = await page.inputValue('#edit-output');
    assert.equal(added.split('\n').length, before.length + 1);
    assert.equal(added.split('\n').filter((l) => !/^\s*"?b"?:/.test(l)).join('\n'), replaced);
    const data = unseal(added, format).data;
    assert.deepEqual(data, { a: b64('ONE'), b: b64('TWO'), c: b64('three') });
    assert.deepEqual(pythonOpen(added), data);
    const download = page.waitForEvent('download');
    await page.click('#edit-download');
    const saved = join(work, `downloaded.${format}`);
    await (await download).saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), added);
    if (shots && format === 'yaml') await page.screenshot({ path: join(shots, 'ui-edit.png'), fullPage: true });
  });
}

test('no request carries the plaintext, and every request goes back to the page\'s origin', async () => {
  await load();
  requests.length = 0;
  const secret = 'correct horse battery staple 0451';
  await sealNew({ name: 'watched', namespace: 'default', items: [{ name: 'k', value: secret }] });
  await page.click('#tab-raw');
  await page.fill('#raw-value', secret);
  await page.fill('#raw-name', 'watched');
  await page.click('#raw-seal');
  await page.waitForFunction(() => document.getElementById('raw-output').value !== '');
  await page.click('#tab-new');
  const download = page.waitForEvent('download');
  await page.click('#new-download');
  await download;
  const origin = new URL(url).origin;
  const forms = [secret, encodeURIComponent(secret), b64(secret), 'horse battery'];
  for (const r of requests) {
    assert.ok(r.url.startsWith(`${origin}/`) || r.url.startsWith('blob:'), `request to ${r.url}`);
    for (const f of forms) {
      assert.ok(!r.url.includes(f) && !r.body.includes(f), `request ${r.method} ${r.url} carries the plaintext`);
    }
  }
  assert.ok(requests.every((r) => r.method === 'GET'), 'only GETs');
  assert.deepEqual(external, []);
});

test('errors say what to fix', async () => {
  await load();
  const attempt = async (form) => {
    await fillNew(form);
    await page.click('#seal');
    await page.waitForFunction(() => document.getElementById('new-error').textContent !== '');
    return page.textContent('#new-error');
  };
  assert.match(await attempt({ name: 'x', namespace: 'y', items: [] }), /secret data is empty: add at least one item/);
  assert.match(await attempt({ name: 'x', namespace: 'y', items: [{ name: 'k', value: 'not base64', encoding: 'base64' }] }),
    /secret data item "k" is not valid base64: illegal base64 data at input byte 3/);
  assert.match(await attempt({ name: 'x', namespace: 'y', items: [{ name: 'k', value: '1' }, { name: 'k', value: '2' }] }),
    /duplicate key "k"/);
  assert.match(await attempt({ name: 'x', namespace: '', items: [{ name: 'k', value: '1' }] }), /must declare a namespace/);
  if (shots) await page.screenshot({ path: join(shots, 'ui-error.png'), fullPage: true });

  await page.click('#cert-other summary');
  await page.fill('#cert-pem', readFileSync(join(root, 'testdata/keys/expired.crt'), 'utf8'));
  await page.click('#cert-use');
  await page.waitForFunction(() => /expired/.test(document.getElementById('cert-error').textContent));
  assert.match(await page.textContent('#cert-error'), /failed to encrypt using an expired certificate on January 1, 2021/);
  assert.match(await attempt({ name: 'x', namespace: 'y', items: [{ name: 'k', value: '1' }] }),
    /failed to encrypt using an expired certificate on January 1, 2021/);
});

test('it works from the keyboard alone, and every control has a label', async () => {
  await load();
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.id || el.className));
  assert.deepEqual(unlabelled, []);

  await page.focus('#tab-new');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tab-edit', 'aria-selected'), 'true');
  assert.ok(await page.isVisible('#panel-edit'));
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-new');
  assert.ok(await page.isVisible('#panel-new'));

  // Name, namespace, scope, type, immutable, then the first item's key and value, by Tab alone.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'name');
  await page.keyboard.type('kbd');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('keys');
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'item-name');
  await page.keyboard.type('token');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.type('typed');
  await page.focus('#name');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('new-output').value !== '');
  assert.equal(unseal(await page.inputValue('#new-output')).data.token, b64('typed'));
});

test('on a phone-sized screen nothing overflows sideways', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    await load();
    await sealNew({ name: 'phone', namespace: 'default', items: [{ name: 'pin', value: '1234' }] });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page is ${width}px wide`);
    if (shots) await page.screenshot({ path: join(shots, 'ui-phone.png'), fullPage: true });
  } finally {
    await page.setViewportSize({ width: 1000, height: 900 });
  }
});

test('sealing 10 items in the page, timed against kubectl-seal sealing the same Secret', async () => {
  await load();
  const items = Array.from({ length: 10 }, (_, i) => ({ name: `item-${i}`, value: `value number ${i}`.repeat(8) }));
  await fillNew({ name: 'ten', namespace: 'default', items });
  const runs = [];
  for (let i = 0; i < 5; i++) {
    runs.push(await page.evaluate(async () => {
      const out = document.getElementById('new-output');
      out.value = '';
      const start = performance.now();
      document.getElementById('seal').click();
      while (out.value === '') await new Promise((r) => setTimeout(r, 0));
      return performance.now() - start;
    }));
  }
  assert.deepEqual(Object.keys(unseal(await page.inputValue('#new-output')).data).length, 10);
  const secret = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ten', namespace: 'default' },
    stringData: Object.fromEntries(items.map((it) => [it.name, it.value])) });
  const cli = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    kubectlSeal(['--cert', certFile, '-o', 'yaml'], secret);
    cli.push(performance.now() - start);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const line = `seal 10 items: page ${median(runs).toFixed(1)} ms, kubectl-seal (process) ${median(cli).toFixed(1)} ms, ratio ${(median(runs) / median(cli)).toFixed(2)}`;
  console.log(line);
  if (process.env.SEAL_UI_BENCH) appendFileSync(process.env.SEAL_UI_BENCH, `${line}\n`);
});

test('the page\'s format module writes kubectl-seal\'s bytes for types, immutable and names YAML would misread', async () => {
  const cert = format.parseCertificate(readFileSync(certFile, 'utf8'));
  const cases = [
    ['strict', 'kubernetes.io/tls', true, 'on', 'n1', ['tls.crt', 'tls.key']],
    ['cluster-wide', '', false, '', 'x.y', ['.dockerconfigjson', 'yes']],
    ['namespace-wide', 'Opaque', false, '123', 'no', ['1e5', '-a', '0x1F']],
    ['strict', 'Opaque', false, 'd', 'k', ['a10', 'a2', 'B', 'b', '_x', '9', '10', 'a02', '.z']],
  ];
  for (const [scope, type, immutable, namespace, name, keys] of cases) {
    const ss = await format.sealSecret(cert, { name, namespace, scope, type, immutable, items: keys.map((k) => ({ name: k, value: 'v' })) });
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name, ...(namespace ? { namespace } : {}) },
      stringData: Object.fromEntries(keys.map((k) => [k, 'v'])), ...(type ? { type } : {}), ...(immutable ? { immutable } : {}) };
    for (const fmt of ['json', 'yaml']) {
      const cli = kubectlSeal(['--cert', certFile, '--scope', scope, '-o', fmt], JSON.stringify(secret));
      assert.equal(mask(format.writeDocument(ss, fmt)), mask(cli), `${scope} ${fmt}`);
    }
  }
});
