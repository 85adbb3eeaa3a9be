// The sealing page: form handling only. The format lives in format.js; nothing here sends
// anything but one GET for the public certificate.
import * as seal from './format.js';

const $ = (id) => document.getElementById(id);
let cert = null;

// ---------------------------------------------------------------------------------------------
// Certificate

async function useCertificate(pem, source) {
  $('cert-error').textContent = '';
  try {
    const parsed = seal.parseCertificate(pem);
    const [id, sha] = await Promise.all([seal.keyId(parsed), seal.fingerprint(parsed)]);
    cert = parsed;
    $('cert-keyid').textContent = id;
    $('cert-sha256').textContent = sha;
    $('cert-bits').textContent = `${parsed.modulusLen * 8} bits`;
    $('cert-expiry').textContent = parsed.notAfter.toISOString().replace('.000', '');
    $('cert-details').hidden = false;
    const expired = seal.expiryError(parsed);
    $('cert-status').textContent = `Using the certificate ${source}.`;
    if (expired) $('cert-error').textContent = `${expired}: ask for the controller's current certificate.`;
  } catch (e) {
    $('cert-error').textContent = `${e.message}`;
  }
}

async function fetchCertificate() {
  $('cert-status').textContent = 'Loading the certificate from the controller…';
  try {
    const res = await fetch('../v1/cert.pem', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error(`the controller answered ${res.status} ${res.statusText}`.trim());
    await useCertificate(await res.text(), 'from the controller (../v1/cert.pem)');
  } catch (e) {
    cert = null;
    $('cert-details').hidden = true;
    $('cert-status').textContent = 'No certificate yet.';
    $('cert-error').textContent = `Cannot load ../v1/cert.pem (${e.message}); paste or drop the certificate under "Use another certificate".`;
    $('cert-other').open = true;
  }
}

function needCert() {
  if (!cert) throw new seal.InputError('no certificate: load one first (see "Certificate" above)');
  return cert;
}

// ---------------------------------------------------------------------------------------------
// Files and drops

const readBytes = async (file) => new Uint8Array(await file.arrayBuffer());

function onDrop(zone, handle) {
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files.length) handle([...e.dataTransfer.files]);
  });
}

function fileValue(input, info) {
  const file = input.files[0];
  info.textContent = file ? `From ${file.name} (${file.size} bytes); the text box is ignored.` : '';
  return file;
}

// ---------------------------------------------------------------------------------------------
// Items of a new SealedSecret

function addItem({ name = '', value = '', encoding = 'text', bytes = null, fileName = '' } = {}) {
  const li = $('item-template').content.firstElementChild.cloneNode(true);
  const n = $('items').children.length + 1;
  const nameInput = li.querySelector('.item-name');
  nameInput.value = name;
  nameInput.setAttribute('aria-label', `Key of item ${n}`);
  li.querySelector('.item-encoding').value = encoding;
  li.querySelector('.item-encoding').setAttribute('aria-label', `Encoding of item ${n}`);
  const area = li.querySelector('.item-value');
  area.value = value;
  area.setAttribute('aria-label', `Value of item ${n}`);
  if (bytes) {
    li.file = bytes;
    area.hidden = true;
    li.querySelector('.item-encoding').closest('div').hidden = true;
    const info = li.querySelector('.item-file');
    info.hidden = false;
    info.textContent = `From the file ${fileName} (${bytes.length} bytes)`;
  }
  li.querySelector('.item-remove').setAttribute('aria-label', `Remove item ${n}`);
  li.querySelector('.item-remove').addEventListener('click', () => {
    const next = li.nextElementSibling ?? li.previousElementSibling;
    li.remove();
    (next?.querySelector('.item-name') ?? $('add-item')).focus();
  });
  $('items').append(li);
  return li;
}

async function addFiles(files) {
  for (const f of files) addItem({ name: f.name, bytes: await readBytes(f), fileName: f.name });
}

const formItems = () => [...$('items').children].map((li) => (li.file
  ? { name: li.querySelector('.item-name').value, value: li.file, encoding: 'bytes' }
  : {
    name: li.querySelector('.item-name').value,
    value: li.querySelector('.item-value').value,
    encoding: li.querySelector('.item-encoding').value,
  }));

// ---------------------------------------------------------------------------------------------
// Output

function show(prefix, text, fileName, type) {
  $(`${prefix}-output`).value = text;
  $(`${prefix}-result`).hidden = false;
  $(`${prefix}-output`).dataset.fileName = fileName;
  $(`${prefix}-output`).dataset.type = type;
}

async function copy(prefix) {
  const area = $(`${prefix}-output`);
  try {
    await navigator.clipboard.writeText(area.value);
  } catch {
    area.select();
    document.execCommand('copy');
  }
}

function download(prefix) {
  const area = $(`${prefix}-output`);
  const url = URL.createObjectURL(new Blob([area.value], { type: area.dataset.type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = area.dataset.fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Runs one tab's action: clears its last result and error first, shows what went wrong after.
async function guarded(prefix, work) {
  const errorId = `${prefix}-error`;
  $(errorId).textContent = '';
  $(`${prefix}-result`).hidden = true;
  $(`${prefix}-output`).value = '';
  try {
    await work();
  } catch (e) {
    $(errorId).textContent = e instanceof seal.InputError ? e.message : `unexpected error: ${e.message}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The three tabs

async function sealNew() {
  const started = performance.now();
  const format = document.querySelector('input[name=format]:checked').value;
  const items = formItems();
  const doc = await seal.sealSecret(needCert(), {
    name: $('name').value,
    namespace: $('namespace').value,
    scope: $('scope').value,
    type: $('type').value.trim(),
    immutable: $('immutable').checked,
    items,
  });
  const ms = Math.round(performance.now() - started);
  show('new', seal.writeDocument(doc, format), `${doc.metadata.name}.sealed.${format}`,
    format === 'json' ? 'application/json' : 'application/yaml');
  $('new-status').textContent = `Sealed ${items.length} item${items.length === 1 ? '' : 's'} in ${ms} ms.`;
}

let editing = null; // { text, fileName }

function loadEditText(text, fileName) {
  $('edit-error').textContent = '';
  $('edit-info').textContent = '';
  editing = null;
  if (!text.trim()) return;
  try {
    const info = seal.readSealedSecret(text);
    editing = { text, fileName: fileName ?? `sealed-secret.${info.format}`, info };
    const where = info.scope === 'cluster-wide' ? 'any namespace' : `namespace ${info.namespace}`;
    $('edit-info').textContent = `${info.name || '(no name)'} in ${where}, scope ${info.scope}, `
      + `items: ${info.items.length ? info.items.join(', ') : '(none)'}.`;
  } catch (e) {
    $('edit-error').textContent = e.message;
  }
}

async function sealEdit() {
  if (!editing) throw new seal.InputError('open or paste a SealedSecret file first');
  const key = $('edit-key').value.trim();
  const [[name, bytes]] = seal.checkItems([await editValue(key)]);
  const { info } = editing;
  const pub = await seal.importPublicKey(needCert());
  const expired = seal.expiryError(cert);
  if (expired) throw new seal.InputError(expired);
  const label = seal.scopeLabel(info.scope, info.namespace, info.name);
  const b64 = seal.b64encode(await seal.sealValue(pub, label, bytes));
  const replaced = info.items.includes(name);
  const text = seal.setItem(editing.text, name, b64);
  $('edit-input').value = text;
  loadEditText(text, editing.fileName);
  show('edit', text, editing.fileName, info.format === 'json' ? 'application/json' : 'application/yaml');
  $('edit-status').textContent = `${replaced ? 'Replaced' : 'Added'} item ${name}; every other line is unchanged.`;
}

async function editValue(name) {
  const file = $('edit-value-file').files[0];
  if (file) return { name, value: await readBytes(file), encoding: 'bytes' };
  return { name, value: $('edit-value').value, encoding: $('edit-encoding').value };
}

async function sealRawValue() {
  const file = $('raw-file').files[0];
  const value = file ? await readBytes(file) : new TextEncoder().encode($('raw-value').value);
  const out = await seal.sealRaw(needCert(), {
    scope: $('raw-scope').value,
    namespace: $('raw-namespace').value,
    name: $('raw-name').value,
    value,
  });
  show('raw', out, 'sealed-value.txt', 'text/plain');
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    tab.focus();
  };
  for (const [i, tab] of tabs.entries()) {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length]);
      if (e.key === 'Home') select(tabs[0]);
      if (e.key === 'End') select(tabs[tabs.length - 1]);
    });
  }
}

function setup() {
  // A file dropped outside a drop zone must not replace the page.
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (e) => e.preventDefault());
  setupTabs();
  addItem();
  $('add-item').addEventListener('click', () => addItem().querySelector('.item-name').focus());
  $('item-files').addEventListener('change', async (e) => { await addFiles([...e.target.files]); e.target.value = ''; });
  onDrop($('items-box'), addFiles);

  $('cert-use').addEventListener('click', () => useCertificate($('cert-pem').value, 'pasted here'));
  $('cert-fetch').addEventListener('click', fetchCertificate);
  $('cert-file').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    if (f) await useCertificate(await f.text(), `from ${f.name}`);
  });
  onDrop($('cert-drop'), async ([f]) => useCertificate(await f.text(), `from ${f.name}`));

  $('new-form').addEventListener('submit', (e) => { e.preventDefault(); guarded('new', sealNew); });
  $('raw-form').addEventListener('submit', (e) => { e.preventDefault(); guarded('raw', sealRawValue); });
  $('edit-form').addEventListener('submit', (e) => { e.preventDefault(); guarded('edit', sealEdit); });

  $('edit-input').addEventListener('input', () => loadEditText($('edit-input').value, editing?.fileName));
  const openEdit = async (f) => { $('edit-input').value = await f.text(); loadEditText($('edit-input').value, f.name); };
  $('edit-file').addEventListener('change', (e) => e.target.files[0] && openEdit(e.target.files[0]));
  onDrop($('edit-drop'), ([f]) => openEdit(f));
  $('edit-value-file').addEventListener('change', () => fileValue($('edit-value-file'), $('edit-value-file-info')));
  $('raw-file').addEventListener('change', () => fileValue($('raw-file'), $('raw-file-info')));

  for (const p of ['new', 'edit', 'raw']) $(`${p}-copy`).addEventListener('click', () => copy(p));
  for (const p of ['new', 'edit']) $(`${p}-download`).addEventListener('click', () => download(p));
  fetchCertificate();
}

setup();
