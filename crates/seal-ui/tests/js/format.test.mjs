// The page's format module against the Rust implementation's known-answer vectors
// (testdata/vectors), the fixture keys, and kubectl-seal's output shapes. Run: node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as f from '../../assets/format.js';

const testdata = fileURLToPath(new URL('../../../../testdata/', import.meta.url));
const read = (p) => readFileSync(testdata + p, 'utf8');
const cert = (stem) => f.parseCertificate(read(`keys/${stem}.crt`));

async function privateKey(stem) {
  const pem = read(`keys/${stem}.pk8.key`);
  const der = f.b64decode(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
  return crypto.subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
}

function vector(file) {
  const out = {};
  for (const line of read(`vectors/${file}`).split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

const vectors = readdirSync(`${testdata}vectors`).filter((v) => v.endsWith('.txt')).sort();

test('there are vectors to check', () => assert.ok(vectors.length >= 15));

for (const file of vectors) {
  test(`vector ${file}`, async () => {
    const v = vector(file);
    const key = await privateKey(v.key);
    const [ns, name] = v.label.includes('/') ? v.label.split('/') : [v.label, 'mysecret'];
    const label = f.scopeLabel(v.scope, ns || 'default', name);
    assert.equal(new TextDecoder().decode(label), v.label, 'the scope gives the vector label');
    const sealed = f.b64decode(v['ciphertext-b64'] ?? '');
    const opened = f.openValue(key, label, sealed);
    if (v.mlkem) {
      // A hybrid (post-quantum) value: the page opens classical values only, and like every
      // classical opener it must refuse one, never return anything from it.
      await assert.rejects(opened);
    } else if (v.expect === 'ok') {
      assert.deepEqual(await opened, f.b64decode(v['plaintext-b64']));
    } else if (v.expect === 'error:too-short') {
      await assert.rejects(opened, { message: 'SealedSecret data is too short' });
    } else {
      assert.equal(v.expect, 'error:decrypt');
      await assert.rejects(opened);
    }
  });
}

test('key ids and fingerprints match the independent generator', async () => {
  for (const stem of ['rsa2048', 'rsa4096', 'rsa4096-b']) {
    const c = cert(stem);
    assert.equal(await f.keyId(c), read(`keys/${stem}.keyid`).trim());
    assert.equal(await f.fingerprint(c), read(`keys/${stem}.sha256`).trim());
  }
  assert.equal(cert('rsa2048').modulusLen, 256);
  assert.equal(cert('rsa4096').modulusLen, 512);
});

test('expired and non-RSA certificates are refused with what to do', async () => {
  const expired = cert('expired');
  assert.equal(f.expiryError(expired), 'failed to encrypt using an expired certificate on January 1, 2021');
  await assert.rejects(f.sealSecret(expired, { name: 'a', namespace: 'b', items: [{ name: 'k', value: 'v' }] }),
    { message: 'failed to encrypt using an expired certificate on January 1, 2021' });
  assert.throws(() => f.parseCertificate(read('keys/ec.crt')), /not RSA/);
  assert.throws(() => f.parseCertificate('hello'), /no PEM CERTIFICATE/);
  assert.equal(f.expiryError(cert('rsa4096')), null);
});

test('seal then open round-trips in every scope, for binary and empty values', async () => {
  for (const stem of ['rsa2048', 'rsa4096']) {
    const c = cert(stem);
    const pub = await f.importPublicKey(c);
    const key = await privateKey(stem);
    for (const scope of f.SCOPES) {
      const label = f.scopeLabel(scope, 'prod', 'db');
      for (const plain of [new Uint8Array(), new Uint8Array(256).map((_, i) => i), new TextEncoder().encode('hunter2')]) {
        const sealed = await f.sealValue(pub, label, plain);
        assert.equal((sealed[0] << 8) | sealed[1], c.modulusLen, 'len(R) is the modulus size');
        assert.equal(sealed.length, 2 + c.modulusLen + plain.length + 16);
        assert.deepEqual(await f.openValue(key, label, sealed), plain);
        const other = f.scopeLabel(scope === 'strict' ? 'namespace-wide' : 'strict', 'prod', 'db');
        await assert.rejects(f.openValue(key, other, sealed), 'another label does not open it');
      }
    }
  }
});

test('every value gets a fresh session key', async () => {
  const pub = await f.importPublicKey(cert('rsa4096'));
  const a = await f.sealValue(pub, new Uint8Array(), new Uint8Array(32));
  const b = await f.sealValue(pub, new Uint8Array(), new Uint8Array(32));
  assert.notDeepEqual(a.subarray(2 + 512), b.subarray(2 + 512));
});

test('base64 is standard and padded, with Go error offsets', () => {
  for (const n of [0, 1, 2, 3, 4, 5, 255]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 37) & 255);
    const text = f.b64encode(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(f.b64decode(text), bytes);
  }
  assert.deepEqual(f.b64decode('aGVs\r\nbG8='), new TextEncoder().encode('hello'));
  assert.throws(() => f.b64decode('a-_b'), { message: 'illegal base64 data at input byte 1' });
  assert.throws(() => f.b64decode('aGVsbG8'), { message: 'illegal base64 data at input byte 4' });
  assert.throws(() => f.b64decode('aGVsbG9='), /illegal base64 data/, 'non-canonical trailing bits');
});

test('form checks say what to fix', () => {
  const items = (list) => () => f.checkItems(list);
  assert.throws(items([]), /secret data is empty/);
  assert.throws(items([{ name: 'a', value: '1' }, { name: 'a', value: '2' }]), /duplicate key "a"/);
  assert.throws(items([{ name: 'a', value: 'not base64!', encoding: 'base64' }]),
    /secret data item "a" is not valid base64: illegal base64 data at input byte 3/);
  assert.throws(items([{ name: 'a/b', value: '1' }]), /not a valid Secret key/);
  assert.throws(items([{ name: ' ', value: '1' }]), /has no name/);
  assert.deepEqual(f.checkItems([{ name: 'b', value: 'x' }, { name: 'a', value: 'eQ==', encoding: 'base64' }]),
    [['a', new Uint8Array([121])], ['b', new Uint8Array([120])]]);
});

test('sealSecret builds what kubectl-seal builds, and its items open', async () => {
  const c = cert('rsa4096');
  const key = await privateKey('rsa4096');
  const ss = await f.sealSecret(c, {
    name: 'db', namespace: 'prod', scope: 'namespace-wide', type: 'Opaque',
    items: [{ name: 'password', value: 'hunter2' }, { name: 'bin', value: new Uint8Array([0, 255]), encoding: 'bytes' }],
  });
  assert.deepEqual(ss.metadata, {
    name: 'db', namespace: 'prod',
    annotations: { [f.ANNOTATION_NAMESPACE_WIDE]: 'true', [f.ANNOTATION_KEY_ID]: await f.keyId(c) },
  });
  assert.deepEqual(ss.spec.template, {
    metadata: { name: 'db', namespace: 'prod', annotations: { [f.ANNOTATION_NAMESPACE_WIDE]: 'true' } },
    type: 'Opaque',
  });
  const label = f.scopeLabel('namespace-wide', 'prod', 'db');
  assert.deepEqual(await f.openValue(key, label, f.b64decode(ss.spec.encryptedData.bin)), new Uint8Array([0, 255]));
  assert.equal(new TextDecoder().decode(await f.openValue(key, label, f.b64decode(ss.spec.encryptedData.password))), 'hunter2');
  await assert.rejects(f.sealSecret(c, { name: 'db', namespace: '', items: [{ name: 'a', value: 'b' }] }), /must declare a namespace/);
  await assert.rejects(f.sealSecret(c, { name: '', namespace: 'x', items: [{ name: 'a', value: 'b' }] }), /missing metadata.name/);
  const cw = await f.sealSecret(c, { name: 'db', namespace: '', scope: 'cluster-wide', items: [{ name: 'a', value: 'b' }] });
  assert.equal(cw.metadata.namespace, undefined, 'cluster-wide keeps an empty namespace');
});

test('JSON output is byte for byte kubectl-seal\'s', () => {
  for (const file of readdirSync(`${testdata}sealed`).filter((x) => /^[a-z.-]+\.json$/.test(x) && !x.includes('expected'))) {
    const text = read(`sealed/${file}`);
    assert.equal(f.writeDocument(JSON.parse(text), 'json'), text, file);
  }
});

test('YAML output quotes what YAML would read otherwise, with sorted keys', () => {
  const doc = { b: 'true', a: { z: 'n', y: '0123', x: 'plain-text', w: 'a: b', v: '', u: '-x', t: '1e5', s: 'x\ny' } };
  assert.equal(f.writeDocument(doc, 'yaml'),
    '---\na:\n  s: "x\\ny"\n  t: "1e5"\n  u: -x\n  v: ""\n  w: "a: b"\n  x: plain-text\n  "y": "0123"\n  z: "n"\nb: "true"\n');
});

test('setItem changes only that item, in JSON and in YAML', () => {
  const json = read('sealed/opaque.strict.json');
  for (const text of [json, f.writeDocument(JSON.parse(json), 'yaml')]) {
    const before = text.split('\n');
    const replaced = f.setItem(text, 'password', 'AgNEW=').split('\n');
    assert.equal(replaced.length, before.length);
    const changed = before.filter((l, i) => l !== replaced[i]);
    assert.equal(changed.length, 1);
    assert.match(changed[0], /password/);
    assert.ok(replaced.some((l) => /password"?: "?AgNEW=/.test(l)));

    const added = f.setItem(text, 'b-new', 'AgADD=');
    assert.equal(added.split('\n').length, before.length + 1);
    const info = f.readSealedSecret(added);
    assert.deepEqual(info.items, ['api-token', 'b-new', 'password', 'username']);
    assert.equal(info.name, 'mysecret');
    assert.equal(info.namespace, 'default');
    assert.equal(info.scope, 'strict');
    if (text === json) assert.equal(JSON.parse(added).spec.encryptedData['b-new'], 'AgADD=');
    // Removing the added line gives back the original bytes.
    assert.equal(added.split('\n').filter((l) => !l.includes('b-new')).join('\n'), text);
  }
});

test('readSealedSecret finds the scope and refuses what it cannot edit', () => {
  const ns = f.readSealedSecret(read('sealed/opaque.namespace-wide.json'));
  assert.equal(ns.scope, 'namespace-wide');
  const cw = f.readSealedSecret(f.writeDocument(JSON.parse(read('sealed/opaque.cluster-wide.json')), 'yaml'));
  assert.equal(cw.scope, 'cluster-wide');
  assert.throws(() => f.readSealedSecret('kind: Secret\n'), /not a SealedSecret/);
  assert.throws(() => f.readSealedSecret('---\nkind: SealedSecret\n---\nkind: SealedSecret\n'), /several documents/);
});
