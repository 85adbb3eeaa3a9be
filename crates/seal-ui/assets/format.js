// The sealed-value format and SealedSecret manifests, in the browser and in Node (SPEC §2, §3, §5).
// Byte for byte what kubectl-seal writes: RSA-OAEP (SHA-256, MGF1-SHA-256, the scope as label)
// over a fresh AES-256-GCM key, then `u16 BE len(R) ‖ R ‖ ciphertext ‖ tag` with a zero nonce.
// Everything runs on WebCrypto; nothing here makes a request.

const subtle = globalThis.crypto.subtle;

export const ANNOTATION_NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';
export const ANNOTATION_CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';
export const ANNOTATION_KEY_ID = 'seal.dev/key-id';
export const SCOPES = ['strict', 'namespace-wide', 'cluster-wide'];

/** A mistake in the input: the message says what to fix. */
export class InputError extends Error {}

const fail = (msg) => { throw new InputError(msg); };

// ---------------------------------------------------------------------------------------------
// base64, standard and padded; like Go, CR and LF are ignored and anything else is refused.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function b64encode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[n >> 18] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

/** Decodes standard padded base64; throws `illegal base64 data at input byte N` as Go does. */
export function b64decode(text) {
  const s = text.replace(/[\r\n]/g, '');
  const bad = (at) => { throw new InputError(`illegal base64 data at input byte ${at}`); };
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  // As Go: the first byte outside the alphabet (or padding before the end) is the error.
  for (let i = 0; i < s.length - pad; i++) if (!B64_INDEX.has(s[i])) bad(i);
  if (s.length % 4 !== 0) bad(s.length - (s.length % 4));
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s[i + j];
      const last = i + 4 === s.length;
      if (c === '=' && last && j >= 4 - pad) { n <<= 6; continue; }
      const v = B64_INDEX.get(c);
      if (v === undefined) bad(i + j);
      n = (n << 6) | v;
    }
    const chunk = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    for (const b of chunk) if (o < out.length) out[o++] = b;
    // Non-canonical trailing bits (as Go's strict decoder) are refused.
    if (i + 4 === s.length && ((pad === 1 && (n & 0xff)) || (pad === 2 && (n & 0xffff)))) {
      bad(s.length - pad - 1);
    }
  }
  return out;
}

const b64nopad = (bytes) => b64encode(bytes).replace(/=+$/, '');
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

// ---------------------------------------------------------------------------------------------
// Certificates: the first PEM CERTIFICATE, read with a small DER walker.

// One DER element of `buf` at offset `at`: its tag and where its contents start and end.
function derRead(buf, at) {
  const tag = buf[at];
  let len = buf[at + 1];
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) fail('the certificate is not valid DER');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
    head += n;
  }
  const start = at + head;
  if (tag === undefined || start + len > buf.length) fail('the certificate is truncated');
  return { tag, at, start, end: start + len, body: buf.subarray(start, start + len) };
}

function derChildren(buf, node) {
  const out = [];
  for (let at = node.start; at < node.end; at = out[out.length - 1].end) out.push(derRead(buf, at));
  return out;
}

function derTime(node) {
  const s = new TextDecoder().decode(node.body);
  const m = /^(\d{2,4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) fail('the certificate has an unreadable validity time');
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, m[2] - 1, m[3], m[4], m[5], m[6]));
}

const unsignedInt = (bytes) => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.slice(i);
};

const RSA_OID = '2a864886f70d010101';

/**
 * Reads the first `CERTIFICATE` of a PEM text: its SubjectPublicKeyInfo, RSA modulus and exponent,
 * and validity.
 */
export function parseCertificate(pem) {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) fail('no PEM CERTIFICATE found: paste the certificate that begins with -----BEGIN CERTIFICATE-----');
  let der;
  try { der = b64decode(m[1].replace(/\s+/g, '')); } catch { fail('the certificate PEM is not valid base64'); }
  const tbs = derChildren(der, derRead(der, 0))[0];
  let fields = derChildren(der, tbs);
  if (fields[0].tag === 0xa0) fields = fields.slice(1); // [0] version
  if (fields.length < 6) fail('the certificate is not an X.509 certificate');
  const [notBefore, notAfter] = derChildren(der, fields[3]).map(derTime);
  const spki = fields[5];
  const [alg, bits] = derChildren(der, spki);
  if (hex(derChildren(der, alg)[0].body) !== RSA_OID) fail('the certificate key is not RSA; seal needs an RSA certificate');
  const rsaKey = derRead(der, bits.start + 1); // after the unused-bits byte
  const [n, e] = derChildren(der, rsaKey).map((x) => unsignedInt(x.body));
  return { spki: der.slice(spki.at, spki.end), n, e, notBefore, notAfter, modulusLen: n.length };
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];

/** Go's `January 2, 2006`, in UTC. */
export const goDate = (d) => `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;

/** kubectl-seal's refusal of an expired certificate, or nothing. */
export function expiryError(cert, now = new Date()) {
  return now > cert.notAfter ? `failed to encrypt using an expired certificate on ${goDate(cert.notAfter)}` : null;
}

const sshString = (bytes) => {
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, bytes.length);
  return concat(len, bytes);
};
const sshMpint = (bytes) => sshString(bytes[0] & 0x80 ? concat(new Uint8Array([0]), bytes) : bytes);

/** The key ID, `SHA256:<base64>`: the OpenSSH fingerprint of the RSA key (SPEC §2). */
export async function keyId(cert) {
  const wire = concat(sshString(utf8('ssh-rsa')), sshMpint(cert.e), sshMpint(cert.n));
  return `SHA256:${b64nopad(new Uint8Array(await subtle.digest('SHA-256', wire)))}`;
}

/** Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo. */
export async function fingerprint(cert) {
  return hex(new Uint8Array(await subtle.digest('SHA-256', cert.spki)));
}

/** The RSA-OAEP SHA-256 encryption key of a parsed certificate. */
export function importPublicKey(cert) {
  return subtle.importKey('spki', cert.spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
}

// ---------------------------------------------------------------------------------------------
// Scopes (SPEC §3).

export function scopeLabel(scope, namespace, name) {
  switch (scope) {
    case 'strict': return utf8(`${namespace}/${name}`);
    case 'namespace-wide': return utf8(namespace);
    case 'cluster-wide': return new Uint8Array();
    default: return fail('must be one of: strict, namespace-wide, cluster-wide');
  }
}

/** The scope a SealedSecret's top-level annotations declare; cluster-wide wins. */
export function scopeOf(annotations = {}) {
  if (annotations[ANNOTATION_CLUSTER_WIDE] === 'true') return 'cluster-wide';
  if (annotations[ANNOTATION_NAMESPACE_WIDE] === 'true') return 'namespace-wide';
  return 'strict';
}

// ---------------------------------------------------------------------------------------------
// Sealing one value.

const ZERO_NONCE = new Uint8Array(12);

/** Seals `plaintext` (bytes) for `label` with `publicKey` (see importPublicKey). */
export async function sealValue(publicKey, label, plaintext) {
  // A fresh session key per value: that alone makes the fixed zero nonce safe.
  const session = globalThis.crypto.getRandomValues(new Uint8Array(32));
  try {
    const aes = await subtle.importKey('raw', session, 'AES-GCM', false, ['encrypt']);
    const body = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: ZERO_NONCE }, aes, plaintext));
    const wrapped = new Uint8Array(await subtle.encrypt({ name: 'RSA-OAEP', label }, publicKey, session));
    const len = new Uint8Array([wrapped.length >> 8, wrapped.length & 255]);
    return concat(len, wrapped, body);
  } finally {
    session.fill(0);
  }
}

/** Opens a sealed value with an RSA-OAEP SHA-256 `decrypt` key; throws on any failure. */
export async function openValue(privateKey, label, sealed) {
  if (sealed.length < 2) fail('SealedSecret data is too short');
  const len = (sealed[0] << 8) | sealed[1];
  if (sealed.length < len + 2) fail('SealedSecret data is too short');
  const session = new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP', label }, privateKey, sealed.subarray(2, 2 + len)));
  try {
    const aes = await subtle.importKey('raw', session, 'AES-GCM', false, ['decrypt']);
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: ZERO_NONCE }, aes, sealed.subarray(2 + len)));
  } finally {
    session.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Sealing a Secret (SPEC §5).

const ITEM_NAME = /^[-._a-zA-Z0-9]+$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Checks what the form holds and returns the items as `[name, bytes]`, sorted by name. Items are
 * `{ name, value, encoding }` with encoding `text` (stringData), `base64` (data) or `bytes`.
 */
export function checkItems(items) {
  const seen = new Map();
  for (const item of items) {
    const name = item.name.trim();
    if (!name) fail('an item has no name: give every item a key, or remove it');
    if (!ITEM_NAME.test(name)) fail(`item name "${name}" is not a valid Secret key: use letters, digits, '-', '_' and '.'`);
    if (seen.has(name)) fail(`duplicate key "${name}": each item name may appear only once`);
    let bytes;
    if (item.encoding === 'base64') {
      try { bytes = b64decode(item.value.trim()); } catch (e) {
        fail(`secret data item "${name}" is not valid base64: ${e.message}; choose "text" to seal it as typed`);
      }
    } else if (item.encoding === 'bytes') {
      bytes = item.value;
    } else {
      bytes = utf8(item.value);
    }
    seen.set(name, bytes);
  }
  if (seen.size === 0) fail('secret data is empty: add at least one item to seal');
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function checkIdentity(scope, namespace, name) {
  if (!SCOPES.includes(scope)) fail('must be one of: strict, namespace-wide, cluster-wide');
  if (!name) fail('missing metadata.name: give the secret a name');
  if (!DNS_NAME.test(name)) fail(`name "${name}" is not a valid Secret name: use lower-case letters, digits, '-' and '.'`);
  if (scope !== 'cluster-wide' && !namespace) fail(`secret must declare a namespace: a ${scope} secret needs one`);
  if (namespace && !DNS_NAME.test(namespace)) fail(`namespace "${namespace}" is not a valid namespace name`);
}

/**
 * Seals a Secret into a SealedSecret document (a plain object), as kubectl-seal does:
 * `{ name, namespace, scope, type, immutable, items }`, with `cert` from parseCertificate.
 */
export async function sealSecret(cert, input, now = new Date()) {
  const expired = expiryError(cert, now);
  if (expired) fail(expired);
  const { scope = 'strict', type = 'Opaque', immutable = false } = input;
  const name = (input.name ?? '').trim();
  const namespace = (input.namespace ?? '').trim();
  checkIdentity(scope, namespace, name);
  if (!/^[A-Za-z0-9._/-]*$/.test(type)) fail(`type "${type}" is not a Secret type: use e.g. Opaque or kubernetes.io/tls`);
  const items = checkItems(input.items);
  const key = await importPublicKey(cert);
  const label = scopeLabel(scope, namespace, name);
  const encryptedData = {};
  for (const [item, bytes] of items) encryptedData[item] = b64encode(await sealValue(key, label, bytes));

  const scopeAnnotations = {};
  if (scope === 'namespace-wide') scopeAnnotations[ANNOTATION_NAMESPACE_WIDE] = 'true';
  if (scope === 'cluster-wide') scopeAnnotations[ANNOTATION_CLUSTER_WIDE] = 'true';
  const meta = (extra) => {
    const m = { name };
    if (namespace) m.namespace = namespace;
    if (Object.keys(extra).length) m.annotations = extra;
    return m;
  };
  const template = { metadata: meta(scopeAnnotations) };
  if (type) template.type = type;
  if (immutable) template.immutable = true;
  return {
    kind: 'SealedSecret',
    apiVersion: 'bitnami.com/v1alpha1',
    metadata: meta({ ...scopeAnnotations, [ANNOTATION_KEY_ID]: await keyId(cert) }),
    spec: { template, encryptedData },
  };
}

/** Seals one value for `--raw`: standard base64, no newline. */
export async function sealRaw(cert, { scope = 'strict', namespace = '', name = '', value }, now = new Date()) {
  const expired = expiryError(cert, now);
  if (expired) fail(expired);
  namespace = namespace.trim();
  name = name.trim();
  if (scope !== 'cluster-wide' && !namespace) fail(`must provide the namespace with raw mode and scope ${scope}`);
  if (scope === 'strict' && !name) fail('must provide the name with raw mode and scope strict');
  const key = await importPublicKey(cert);
  return b64encode(await sealValue(key, scopeLabel(scope, namespace, name), value));
}

// ---------------------------------------------------------------------------------------------
// Writing manifests as kubectl-seal does: JSON in Go's field order, YAML with sorted keys.

const GO_OBJECT_META = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion',
  'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels',
  'annotations', 'ownerReferences', 'finalizers', 'managedFields'];
const ORDER = {
  root: ['kind', 'apiVersion', 'metadata', 'spec', 'status'],
  meta: GO_OBJECT_META,
  spec: ['template', 'data', 'encryptedData'],
  template: ['metadata', 'type', 'immutable', 'data'],
  other: [],
};
const childCtx = (ctx, key) => ((ctx === 'root' || ctx === 'template') && key === 'metadata' ? 'meta'
  : ctx === 'root' && key === 'spec' ? 'spec' : ctx === 'spec' && key === 'template' ? 'template' : 'other');

const byCodeUnits = (a, b) => {
  const x = utf8(a); const y = utf8(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

function ordered(obj, order) {
  const rank = (k) => { const r = order.indexOf(k); return r < 0 ? order.length : r; };
  return Object.keys(obj).sort((a, b) => rank(a) - rank(b) || byCodeUnits(a, b));
}

function jsonString(s) {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (cp < 0x20 || '<>&\u2028\u2029'.includes(c)) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

function writeJson(v, ctx, indent) {
  const pad = (n) => '  '.repeat(n);
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[\n${v.map((x) => pad(indent + 1) + writeJson(x, 'other', indent + 1)).join(',\n')}\n${pad(indent)}]`;
  }
  if (typeof v === 'object') {
    const keys = ordered(v, ORDER[ctx]);
    if (!keys.length) return '{}';
    const body = keys.map((k) => `${pad(indent + 1)}${jsonString(k)}: ${writeJson(v[k], childCtx(ctx, k), indent + 1)}`);
    return `{\n${body.join(',\n')}\n${pad(indent)}}`;
  }
  if (typeof v === 'string') return jsonString(v);
  return String(v);
}

const needsEscape = (c) => /[\p{Cc}\u2028\u2029\ufeff]/u.test(c);

/** Whether `s` reads back as the same string when written plain, in YAML 1.1 and 1.2. */
function yamlPlainOk(s) {
  if (!s || s.trim() !== s || [...s].some(needsEscape)) return false;
  const first = s[0];
  const dashOk = first === '-' && s.length > 1 && !s.startsWith('- ') && !s.startsWith('---');
  if ('-?:,[]{}#&*!|>\'"%@`=<~'.includes(first) && !dashOk) return false;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return false;
  const reserved = ['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~', '.inf', '-.inf', '+.inf', '.nan'];
  if (reserved.includes(s.toLowerCase())) return false;
  const numericStart = /[0-9]/.test(first) || ('-+.'.includes(first) && s.length > 1);
  if (numericStart) {
    const rest = s.replace(/^[-+]+/, '');
    const looksNumeric = isRustFloat(rest) || /^0[xob]/.test(rest) || /^[0-9_:.]*$/.test(rest)
      || (rest.length >= 8 && rest[4] === '-' && /^[0-9]{4}/.test(rest));
    if (looksNumeric) return false;
  }
  return true;
}

// What Rust's `str::parse::<f64>` accepts.
const isRustFloat = (s) => /^[+-]?(inf|infinity|nan|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)$/i.test(s);

function yamlString(s) {
  if (yamlPlainOk(s)) return s;
  let out = '"';
  for (const c of s) {
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (needsEscape(c)) out += `\\u${c.codePointAt(0).toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

const yamlScalar = (v) => (v === null ? 'null' : typeof v === 'string' ? yamlString(v)
  : Array.isArray(v) ? '[]' : typeof v === 'object' ? '{}' : String(v));
const isFull = (v) => v !== null && typeof v === 'object' && Object.keys(v).length > 0;

// go-yaml v2's key order (kubectl-seal's YAML): rune by rune; where they differ, two letters
// compare as characters, a non-letter sorts before a letter, runs of digits compare as numbers.
function yamlKeyLess(a, b) {
  const ar = [...a]; const br = [...b];
  const letter = (c) => /\p{L}/u.test(c);
  const digit = (c) => c >= '0' && c <= '9';
  for (let i = 0; i < Math.min(ar.length, br.length); i++) {
    if (ar[i] === br[i]) continue;
    const al = letter(ar[i]); const bl = letter(br[i]);
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    let an = 0n; let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i; j > 0 && digit(ar[j - 1]);) {
        j -= 1;
        if (ar[j] !== '0') { an = 1n; bn = 1n; break; }
      }
    }
    let ai = i;
    for (; ai < ar.length && digit(ar[ai]); ai++) an = an * 10n + BigInt(ar[ai]);
    let bi = i;
    for (; bi < br.length && digit(br[bi]); bi++) bn = bn * 10n + BigInt(br[bi]);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.length < br.length;
}
const yamlKeyOrder = (a, b) => (a === b ? 0 : yamlKeyLess(a, b) ? -1 : 1);

function writeYamlMap(obj, indent) {
  const keys = Object.keys(obj).sort(yamlKeyOrder);
  return keys.map((k, i) => {
    const v = obj[k];
    const head = (i > 0 ? '  '.repeat(indent) : '') + yamlString(k) + ':';
    if (isFull(v) && !Array.isArray(v)) return `${head}\n${'  '.repeat(indent + 1)}${writeYamlMap(v, indent + 1)}`;
    if (isFull(v)) return `${head}\n${'  '.repeat(indent)}${writeYamlSeq(v, indent)}`;
    return `${head} ${yamlScalar(v)}\n`;
  }).join('');
}

function writeYamlSeq(arr, indent) {
  return arr.map((v, i) => {
    const head = `${i > 0 ? '  '.repeat(indent) : ''}- `;
    if (isFull(v) && !Array.isArray(v)) return head + writeYamlMap(v, indent + 1);
    if (isFull(v)) return head + writeYamlSeq(v, indent + 1);
    return `${head}${yamlScalar(v)}\n`;
  }).join('');
}

/** One document as kubectl-seal prints it: `json` (2-space, Go order, `\n`) or `yaml` (`---`). */
export function writeDocument(doc, format) {
  if (format === 'yaml') return `---\n${isFull(doc) ? writeYamlMap(doc, 0) : `${yamlScalar(doc)}\n`}`;
  return `${writeJson(doc, 'root', 0)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Existing sealed files: read the identity, and set one item leaving every other byte as it was.

const sniffJson = (text) => /^\s*[{[]/.test(text);

function yamlScalarValue(raw) {
  const s = raw.replace(/\s+#.*$/, '').trim();
  if (s.startsWith('"')) {
    try { return JSON.parse(s); } catch { fail(`cannot read the quoted value ${s.slice(0, 40)}`); }
  }
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

/** The key of a `key: value` line (already unindented) and where its value starts. */
function yamlKey(line) {
  let m = /^"((?:[^"\\]|\\.)*)"\s*:(?:\s+|$)/.exec(line);
  if (m) return { key: JSON.parse(`"${m[1]}"`), value: line.slice(m[0].length) };
  m = /^'((?:[^']|'')*)'\s*:(?:\s+|$)/.exec(line);
  if (m) return { key: m[1].replace(/''/g, "'"), value: line.slice(m[0].length) };
  if (/^(- |[{[?&*!|>])/.test(line)) return null;
  m = /^(.*?)\s*:(?:[ \t]+|$)/.exec(line);
  return m ? { key: m[1], value: line.slice(m[0].length) } : null;
}

/** Block-style YAML maps of scalars into nested objects (enough for a SealedSecret's header). */
function readYamlBlock(text) {
  const root = {};
  const stack = [{ indent: -1, obj: root }];
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*(#.*)?$/.test(raw) || raw.startsWith('---')) continue;
    const indent = raw.length - raw.trimStart().length;
    const kv = yamlKey(raw.trimStart());
    if (!kv) continue; // sequence entries and flow values are not needed here
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    const value = kv.value.replace(/\s+#.*$/, '').trim();
    if (value === '') {
      parent[kv.key] = {};
      stack.push({ indent, obj: parent[kv.key] });
    } else {
      parent[kv.key] = value === '{}' ? {} : yamlScalarValue(value);
    }
  }
  return root;
}

/**
 * Reads the one SealedSecret of a file: `{ format, name, namespace, scope, items }`, where items
 * are the names under `encryptedData`.
 */
export function readSealedSecret(text) {
  const format = sniffJson(text) ? 'json' : 'yaml';
  if (format === 'yaml' && text.split(/^---\s*$/m).filter((d) => /\S/.test(d.replace(/^\s*#.*$/gm, ''))).length > 1) {
    fail('the file holds several documents; open a file with exactly one SealedSecret');
  }
  let doc;
  if (format === 'json') {
    try { doc = JSON.parse(text); } catch (e) { fail(`the file is not valid JSON: ${e.message}`); }
  } else {
    doc = readYamlBlock(text);
  }
  if (doc?.kind !== 'SealedSecret') fail('the file is not a SealedSecret (kind: SealedSecret expected)');
  const meta = doc.metadata ?? {};
  const scope = scopeOf(meta.annotations ?? {});
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? '';
  if (scope !== 'cluster-wide' && !namespace) fail(`the file has no metadata.namespace; a ${scope} SealedSecret needs one`);
  if (scope === 'strict' && !name) fail('the file has no metadata.name');
  const items = Object.keys(doc.spec?.encryptedData ?? {}).sort(byCodeUnits);
  return { format, name, namespace, scope, items };
}

/** Sets item `key` to `b64` in the file's text, changing only that item (or adding one line). */
export function setItem(text, key, b64) {
  return sniffJson(text) ? setItemJson(text, key, b64) : setItemYaml(text, key, b64);
}

function setItemYaml(text, key, b64) {
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const indentOf = (l) => l.length - l.trimStart().length;
  const heads = lines.map((l, i) => [l, i])
    .filter(([l]) => indentOf(l) > 0 && yamlKey(l.trimStart())?.key === 'encryptedData');
  if (heads.length !== 1) fail(heads.length ? 'the file has several encryptedData blocks' : 'found no encryptedData block to edit');
  const [headLine, head] = heads[0];
  const headIndent = indentOf(headLine);
  const inline = yamlKey(headLine.trimStart()).value.replace(/\s+#.*$/, '').trim();
  if (inline && inline !== '{}') fail('encryptedData is written inline; write it as a block to edit it here');
  let itemIndent = null;
  let end = head + 1;
  const items = [];
  for (let i = head + 1; i < lines.length && !inline; i++) {
    if (/^\s*(#.*)?$/.test(lines[i])) continue;
    const ind = indentOf(lines[i]);
    if (ind <= headIndent) break;
    itemIndent ??= ind;
    end = i + 1;
    if (ind > itemIndent) {
      if (items.at(-1)?.key === key) fail(`the value of "${key}" spans several lines; the file is unchanged`);
      continue;
    }
    const kv = yamlKey(lines[i].trimStart());
    if (!kv) fail('cannot read the encryptedData block; the file is unchanged');
    items.push({ line: i, key: kv.key });
  }
  itemIndent ??= headIndent + 2;
  const entry = `${' '.repeat(itemIndent)}${yamlString(key)}: ${b64}`;
  const found = items.find((it) => it.key === key);
  if (found) {
    lines[found.line] = entry;
  } else if (inline === '{}') {
    lines[head] = `${headLine.slice(0, headLine.indexOf(':') + 1)}`;
    lines.splice(head + 1, 0, entry);
  } else {
    // Keep the items sorted, as kubectl-seal writes them.
    const after = items.find((it) => yamlKeyOrder(it.key, key) > 0);
    lines.splice(after ? after.line : end, 0, entry);
  }
  return lines.join(nl);
}

function setItemJson(text, key, b64) {
  const m = /"encryptedData"\s*:\s*\{/.exec(text);
  if (!m || text.indexOf('"encryptedData"', m.index + 1) >= 0) fail('expected exactly one "encryptedData" object to edit');
  const open = m.index + m[0].length;
  // The items: "name": "value" pairs up to the closing brace.
  const pairRe = /\s*("(?:[^"\\]|\\.)*")\s*:\s*"([^"\\]*)"\s*(,?)/y;
  const pairs = [];
  let at = open;
  for (;;) {
    pairRe.lastIndex = at;
    const p = pairRe.exec(text);
    if (!p) break;
    pairs.push({ start: p.index, key: JSON.parse(p[1]), valueStart: p.index + p[0].indexOf(`"${p[2]}"`, p[0].indexOf(':')), value: p[2], end: pairRe.lastIndex, comma: p[3] });
    at = pairRe.lastIndex;
    if (!p[3]) break;
  }
  const close = /^\s*\}/.exec(text.slice(at));
  if (!close) fail('cannot read the encryptedData object; the file is unchanged');
  const found = pairs.find((p) => p.key === key);
  if (found) {
    return text.slice(0, found.valueStart) + jsonString(b64) + text.slice(found.valueStart + found.value.length + 2);
  }
  // A new item: one more line, indented as its neighbours, in sorted position.
  const lineStart = (i) => text.lastIndexOf('\n', i - 1) + 1;
  const closeAt = at + close[0].length - 1;
  const closeIndent = text.slice(lineStart(closeAt), closeAt);
  const itemIndent = pairs.length
    ? text.slice(lineStart(pairs[0].start + pairs[0].key.length), text.indexOf('"', pairs[0].start))
    : `${closeIndent}  `;
  const entry = `${itemIndent}${jsonString(key)}: ${jsonString(b64)}`;
  if (!pairs.length) return `${text.slice(0, open)}\n${entry}\n${closeIndent}${text.slice(closeAt)}`;
  const after = pairs.find((p) => byCodeUnits(p.key, key) > 0);
  if (after) {
    const ls = text.indexOf('"', after.start) - itemIndent.length;
    return `${text.slice(0, ls)}${entry},\n${text.slice(ls)}`;
  }
  const last = pairs.at(-1);
  const lastValueEnd = last.valueStart + last.value.length + 2;
  return `${text.slice(0, lastValueEnd)},\n${entry}${text.slice(lastValueEnd)}`;
}
