// A cheerio implementation of Nimbus's extraction contract (DESIGN.md
// section 6, extract/page.go): head metadata, dimensions, content blocks,
// selector map and the page audit. It is the speed baseline `make bench`
// compares the Go extractor with (extract.BenchmarkVsCheerio); README.md
// lists the rules that differ.
//
//   node extract.mjs [--options JSON] --root DIR FILE...   one JSON line per file
//   node extract.mjs [--options JSON] --serve DIR          benchmark server (stdin commands):
//       "run"  extracts every .html under DIR (read into memory at start)
//              and answers {"ms": ..., "pages": N, "blocks": B, "errors": E}
//       "dump" answers the extraction of every page, one JSON line
//
// Options (JSON): {"path_pattern", "css_extractors": {dim: selector},
// "main_selector", "above_fold_until" (a tag name), "above_fold_max", "domain"}.

import { load, loadBuffer } from 'cheerio';
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const HTML_NS = 'http://www.w3.org/1999/xhtml';

// Go's unicode.IsSpace, exactly (JavaScript's \s also matches U+FEFF and
// misses U+0085).
const SPACES = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const collapse = (s) => s.replace(SPACES, ' ').trim();

const BLOCKS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'li', 'blockquote', 'figcaption',
  'td', 'th', 'button', 'dt', 'dd', 'summary']);
const SKIPPED = new Set(['script', 'style', 'template', 'svg', 'noscript', 'math', 'iframe', 'object']);
const PHRASING = new Set(['a', 'abbr', 'b', 'bdi', 'bdo', 'br', 'cite', 'code', 'data', 'dfn', 'em', 'i',
  'kbd', 'mark', 'q', 's', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'time', 'u', 'var', 'wbr',
  'del', 'ins', 'label', 'font', 'img']);
const MAIN_FALLBACK = ['main', '[role=main]', 'article', '#content', 'body'];

const isElement = (n) => n.type === 'tag' || n.type === 'script' || n.type === 'style';
const attr = (n, k) => (n.attribs && n.attribs[k]) || '';
const foreign = (n) => n.namespace && n.namespace !== HTML_NS;

function skipped(n) {
  return foreign(n) || SKIPPED.has(n.name);
}

function isCTA(n) {
  if (attr(n, 'role').toLowerCase() === 'button') return true;
  return attr(n, 'class').toLowerCase().split(SPACES).some((c) => c.includes('btn') || c.includes('button') || c.includes('cta'));
}

function blockKind(n) {
  if (foreign(n)) return '';
  if (BLOCKS.has(n.name)) return n.name;
  if (n.name === 'img') return 'img';
  if (n.name === 'a' && isCTA(n)) return 'a';
  return '';
}

// textOf: the subtree's text without script/style and friends.
function textOf(n) {
  if (n.name === 'title') return (n.children || []).filter((c) => c.type === 'text').map((c) => c.data).join('');
  let out = '';
  const walk = (x) => {
    for (const c of x.children || []) {
      if (c.type === 'text') out += c.data;
      else if (isElement(c)) {
        if (c.name === 'br') out += ' ';
        else if (!skipped(c)) walk(c);
      }
    }
  };
  walk(n);
  return out;
}

function cssIdent(s) {
  let ok = true;
  const chars = [...s];
  chars.forEach((r, i) => {
    if (!(r === '-' || r === '_' || /\p{L}/u.test(r) || (i > 0 && /\p{Nd}/u.test(r)))) ok = false;
  });
  if (ok) return s;
  return chars.map((r, i) => (r === '-' || r === '_' || /\p{L}/u.test(r) || (i > 0 && /\p{Nd}/u.test(r))
    ? r : '\\' + r.codePointAt(0).toString(16) + ' ')).join('');
}

function stepAt(n, idx, total) {
  const name = cssIdent(n.name);
  return total <= 1 ? name : `${name}:nth-of-type(${idx})`;
}

function step(n) {
  let idx = 0;
  let total = 0;
  for (const s of (n.parent && n.parent.children) || []) {
    if (isElement(s) && s.name === n.name) {
      total++;
      if (s === n) idx = total;
    }
  }
  return stepAt(n, idx, total);
}

function absolutePath(n) {
  const parts = [];
  for (let x = n; x && isElement(x); x = x.parent) parts.unshift(step(x));
  return parts.join(' > ');
}

function navigationTable(n) {
  let links = 0;
  let linkText = 0;
  let all = 0;
  const walk = (x, inLink) => {
    for (const c of x.children || []) {
      if (c.type === 'text') {
        const l = Buffer.byteLength(c.data.trim());
        all += l;
        if (inLink) linkText += l;
      } else if (isElement(c)) {
        let inl = inLink;
        if (c.name === 'a' && attr(c, 'href') !== '') {
          links++;
          inl = true;
        }
        walk(c, inl);
      }
    }
  };
  walk(n, false);
  return links >= 3 && linkText * 10 >= all * 7;
}

function chrome(n) {
  if (n.name === 'header' || n.name === 'nav' || n.name === 'footer') return true;
  if (n.name === 'table') return navigationTable(n);
  const role = attr(n, 'role').toLowerCase();
  return role === 'navigation' || role === 'banner' || role === 'contentinfo';
}

function childMarkup(n) {
  let names = [];
  for (const c of n.children || []) {
    if (c.type === 'text') continue;
    if (isElement(c)) names.push(`<${c.name}>`);
    else if (c.type === 'comment') names.push('a comment');
    else names.push('markup');
  }
  if (names.length > 4) names = [...names.slice(0, 4), '...'];
  return names.join(', ');
}

function blockAttrs($, n) {
  const m = {};
  const set = (k, v) => { if (v !== '') m[k] = v; };
  if (n.name === 'a') {
    set('href', attr(n, 'href').trim());
    set('cta', 'true');
  } else if (n.name === 'button') {
    set('cta', 'true');
  } else if (n.name === 'img') {
    set('src', attr(n, 'src').trim());
    set('alt', attr(n, 'alt'));
  }
  set('title', attr(n, 'title'));
  if ((n.children || []).some((c) => isElement(c) && PHRASING.has(c.name) && blockKind(c) === '')) {
    set('html', $(n).html());
  }
  if (n.name !== 'img') set('markup', childMarkup(n));
  return Object.keys(m).length ? m : undefined;
}

// The walk under the main root: innermost block wins, its own text outside
// nested blocks stays its own; nth-of-type from per-parent counters.
function walkBlocks(root, rootSel, foldTag, bodyFallback) {
  const found = [];
  const pathStack = [];
  let foldEnded = false;
  const write = (cur, s) => { if (cur >= 0) found[cur].parts.push(s); };
  const selector = () => {
    let s = rootSel;
    for (let i = 1; i < pathStack.length; i++) {
      const e = pathStack[i];
      if (e.sel === undefined) e.sel = e.total > 0 ? stepAt(e.node, e.idx, e.total) : step(e.node);
      s += ' > ' + e.sel;
    }
    return s;
  };
  const children = (n, cur) => {
    let counts = null;
    for (const c of n.children || []) {
      if (c.type === 'text') {
        write(cur, c.data);
      } else if (isElement(c)) {
        if (counts === null) {
          counts = new Map();
          for (const s of n.children) if (isElement(s)) counts.set(s.name, { total: (counts.get(s.name)?.total || 0) + 1, seen: 0 });
        }
        const cnt = counts.get(c.name);
        cnt.seen++;
        if (skipped(c) || (bodyFallback && chrome(c))) continue;
        if (c.name === 'br') {
          write(cur, ' ');
          continue;
        }
        visit(c, cur, cnt.seen, cnt.total);
      }
    }
  };
  const visit = (n, cur, idx, total) => {
    if (!foldEnded && n.name === foldTag && !foreign(n)) foldEnded = true;
    pathStack.push({ node: n, idx, total, sel: undefined });
    const kind = blockKind(n);
    if (kind === '') {
      children(n, cur);
      pathStack.pop();
      return;
    }
    write(cur, ' ');
    found.push({ node: n, type: kind, parts: [], beforeFold: !foldEnded, sel: selector() });
    const at = found.length - 1;
    if (kind !== 'img') {
      children(n, at);
      found[at].content = collapse(found[at].parts.join(''));
    }
    write(cur, ' ');
    pathStack.pop();
  };
  visit(root, -1, 0, 0);
  return found;
}

function dataAttrs(n) {
  const m = {};
  if (!n) return m;
  for (const [k, v] of Object.entries(n.attribs || {})) {
    if (!k.startsWith('data-') || k.length === 5) continue;
    const c = collapse(v);
    if (c !== '') m[k.slice(5)] = c;
  }
  return m;
}

function compilePattern(p) {
  p = (p || '').trim().replace(/^\/+|\/+$/g, '');
  if (!p) return null;
  const names = [];
  let re = '(?:^|/)';
  let last = 0;
  for (const m of p.matchAll(/\{([A-Za-z0-9_-]+)\}/g)) {
    re += p.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '([^/]+?)';
    names.push(m[1]);
    last = m.index + m[0].length;
  }
  re += p.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$';
  return { re: new RegExp(re), names };
}

function hostKey(s) {
  s = s.trim().toLowerCase();
  const i = s.indexOf('://');
  if (i >= 0) s = s.slice(i + 3);
  const j = s.search(/[/:?#]/);
  if (j >= 0) s = s.slice(0, j);
  return s.replace(/^www\./, '');
}

function urlKey(p) {
  p = path.posix.normalize('/' + p).replace(/\/+$/, '') || '/';
  p = p.replace(/\.html$/, '').replace(/\.htm$/, '').replace(/\/index$/, '');
  return p === '' ? '/' : p;
}

const runeLen = (s) => [...s].length;

function audit(opts, sourcePath, ext, counts) {
  const title = ext.head.title;
  const desc = ext.head.metaDescription;
  const canon = ext.head.canonical;
  let words = 0;
  for (const b of [...ext.above_fold_blocks, ...ext.rest_of_page_blocks]) {
    if (b.type !== 'img' && b.content !== '') words += b.content.split(' ').length;
  }
  const a = { title_length: runeLen(title), description_length: runeLen(desc), h1_count: counts.h1, word_count: words, issues: [] };
  const add = (code, severity, message) => a.issues.push({ code, severity, message });
  if (title === '') add('title_missing', 'error', 'the page has no title');
  else if (a.title_length > 60) add('title_too_long', 'warn', `the title has ${a.title_length} characters (over 60)`);
  else if (a.title_length < 30) add('title_too_short', 'warn', `the title has ${a.title_length} characters (under 30)`);
  if (counts.title > 1) add('title_multiple', 'warn', `the page has ${counts.title} <title> elements`);
  if (desc === '') add('description_missing', 'warn', 'the page has no meta description');
  else if (a.description_length > 155) add('description_too_long', 'warn', `the meta description has ${a.description_length} characters (over 155)`);
  else if (a.description_length < 70) add('description_too_short', 'warn', `the meta description has ${a.description_length} characters (under 70)`);
  if (counts.description > 1) add('description_multiple', 'warn', `the page has ${counts.description} meta descriptions`);
  if (a.h1_count === 0) add('h1_missing', 'error', 'the page has no h1');
  else if (a.h1_count > 1) add('h1_multiple', 'warn', `the page has ${a.h1_count} h1 elements`);
  if (words < 200) add('low_word_count', 'info', `the main area has ${words} words (under 200)`);
  if (canon === '') {
    add('canonical_missing', 'warn', 'the page has no canonical link');
  } else {
    if (counts.canonical > 1) add('canonical_multiple', 'warn', `the page has ${counts.canonical} canonical links`);
    let u = null;
    try { u = new URL(canon, 'nimbus-relative:/'); } catch { add('canonical_mismatch', 'warn', `the canonical "${canon}" is not a URL`); }
    if (u) {
      const d = hostKey(opts.domain || '');
      const host = u.protocol === 'nimbus-relative:' ? '' : u.host;
      if (d.includes('.') && host !== '' && hostKey(host) !== d) {
        add('canonical_mismatch', 'warn', `the canonical host "${host}" is not the project domain "${opts.domain}"`);
      } else if (sourcePath) {
        const i = sourcePath.indexOf('/');
        const pagePath = i >= 0 ? sourcePath.slice(i) : '/';
        if (urlKey(u.pathname) !== urlKey(pagePath)) {
          add('canonical_mismatch', 'warn', `the canonical path "${u.pathname}" is not this page's path "${pagePath}"`);
        }
      }
    }
  }
  if (a.issues.length === 0) delete a.issues;
  return a;
}

// compile prepares the options once per run (as the Go Extractor does).
export function compile(opts = {}) {
  const main = (opts.main_selector || '').trim() || 'main';
  const cssNames = Object.keys(opts.css_extractors || {}).sort();
  return {
    opts,
    mainSels: [main, ...MAIN_FALLBACK.filter((s) => s !== main)],
    foldTag: (opts.above_fold_until || 'h2').toLowerCase(),
    foldMax: opts.above_fold_max > 0 ? opts.above_fold_max : 8,
    pattern: compilePattern(opts.path_pattern),
    css: cssNames.map((n) => [n, opts.css_extractors[n]]),
  };
}

// decode: a byte-order mark or valid UTF-8 is UTF-8; anything else goes
// through cheerio's own sniffing (loadBuffer: BOM, <meta> in the first
// 1,024 bytes, else windows-1252).
function parse(buf) {
  let b = buf;
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  if (isUtf8(b)) return { $: load(b.toString('utf8')), encoding: 'utf-8' };
  return { $: loadBuffer(buf), encoding: 'sniffed' };
}

export function extract(c, buf, sourcePath) {
  const { $, encoding } = parse(buf);
  const html = (i, el) => !foreign(el);
  // head
  const head = { title: '', metaDescription: '', canonical: '', favicon: '' };
  const set = {};
  const once = (k, v) => { if (!(k in set)) set[k] = v; };
  const counts = { title: 0, description: 0, canonical: 0, h1: 0 };
  const titles = $('title').filter(html);
  counts.title = titles.length;
  if (titles.length) once('title', collapse(textOf(titles[0])));
  const metaDims = {};
  $('meta').each((i, n) => {
    const name = attr(n, 'name').trim().toLowerCase();
    const prop = attr(n, 'property').trim().toLowerCase();
    const content = collapse(attr(n, 'content'));
    const key = name || prop;
    if (key === 'description') {
      counts.description++;
      once('metaDescription', content);
    } else if (key === 'robots' || key === 'keywords' || key.startsWith('og:') || key.startsWith('twitter:')) {
      once(key, content);
    } else if (key.startsWith('nimbus:') && key.length > 7 && content !== '') {
      metaDims[key.slice(7)] = content;
    }
    if (name && prop && (prop.startsWith('og:') || prop.startsWith('twitter:'))) once(prop, content);
  });
  $('link').each((i, n) => {
    const href = attr(n, 'href').trim();
    for (const r of attr(n, 'rel').toLowerCase().split(SPACES)) {
      if (r === 'canonical') {
        counts.canonical++;
        once('canonical', href);
      } else if (r === 'icon') once('favicon', href);
      else if (r === 'apple-touch-icon') once('_touchicon', href);
    }
  });
  const h1s = $('h1').filter(html);
  counts.h1 = h1s.length;
  const firstH1 = h1s.length ? collapse(textOf(h1s[0])) : '';
  for (const [k, v] of Object.entries(set)) if (k !== '_touchicon') head[k] = v;
  if (head.favicon === '') head.favicon = set._touchicon || '';
  const htmlEl = $('html')[0];
  const lang = collapse(attr(htmlEl, 'lang'));
  if (lang) head.lang = lang;

  // main root: the fallback chain
  let root = null;
  let used = 'body';
  let rootSel = 'html';
  for (const sel of c.mainSels) {
    const all = $(sel);
    if (all.length === 0) continue;
    root = all[0];
    used = sel;
    rootSel = all.length > 1 || sel.includes(',') ? absolutePath(root) : sel;
    break;
  }
  const ext = {
    engine: 'cheerio', main_selector: used, head, dimensions: {},
    above_fold_blocks: [], rest_of_page_blocks: [], selector_map: {},
  };
  const found = root ? walkBlocks(root, rootSel, c.foldTag, used === 'body') : [];
  let id = 0;
  let above = 0;
  let foldOpen = true;
  for (const b of found) {
    const content = b.type === 'img' ? collapse(attr(b.node, 'alt')) : b.content;
    if (content === '') continue;
    const blk = { id: `block-${id++}`, type: b.type, content };
    const attrs = blockAttrs($, b.node);
    if (attrs) blk.attributes = attrs;
    ext.selector_map[blk.id] = b.sel;
    if (foldOpen && (!b.beforeFold || above >= c.foldMax)) foldOpen = false;
    if (foldOpen) {
      ext.above_fold_blocks.push(blk);
      above++;
    } else {
      ext.rest_of_page_blocks.push(blk);
    }
  }

  // dimensions: path, data-*, nimbus:* metas, CSS extractors (later win)
  const d = ext.dimensions;
  if (c.pattern) {
    const m = sourcePath.normalize('NFC').replace(/\\/g, '/').match(c.pattern.re);
    c.pattern.names.forEach((name, i) => { if (m && m[i + 1]) d[name] = m[i + 1]; });
  }
  Object.assign(d, dataAttrs(htmlEl), dataAttrs($('body')[0]), metaDims);
  for (const [name, sel] of c.css) {
    const n = $(sel)[0];
    if (!n) continue;
    const v = collapse(attr(n, 'content')) || collapse(textOf(n));
    if (v !== '') d[name] = v;
  }
  return { extraction: ext, audit: audit(c.opts, sourcePath, ext, counts), encoding, h1: firstH1 };
}

function htmlFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.html?$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

// sourcePath is the path the Go scan gives a page: the root folder's name
// and the path under it ("dist/local/a.html").
function sourcePathOf(root, file) {
  return path.basename(root) + '/' + path.relative(root, file).split(path.sep).join('/');
}

function main() {
  const args = process.argv.slice(2);
  let opts = {};
  let root = null;
  let serve = false;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--options') opts = JSON.parse(args[++i]);
    else if (args[i] === '--root') root = args[++i];
    else if (args[i] === '--serve') { serve = true; root = args[++i]; } else files.push(args[i]);
  }
  const c = compile(opts);
  if (!serve) {
    for (const f of files) {
      const sp = root ? sourcePathOf(root, f) : path.basename(f);
      process.stdout.write(JSON.stringify({ source_path: sp, ...extract(c, fs.readFileSync(f), sp) }) + '\n');
    }
    return;
  }
  const pages = htmlFiles(root).map((f) => ({ sp: sourcePathOf(root, f), buf: fs.readFileSync(f) }));
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'run') {
      let blocks = 0;
      let errors = 0;
      const t0 = process.hrtime.bigint();
      for (const p of pages) {
        try {
          const r = extract(c, p.buf, p.sp);
          blocks += r.extraction.above_fold_blocks.length + r.extraction.rest_of_page_blocks.length;
        } catch (e) {
          errors++;
          process.stderr.write(`${p.sp}: ${e.stack}\n`);
        }
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.stdout.write(JSON.stringify({ ms, pages: pages.length, blocks, errors }) + '\n');
    } else if (cmd === 'dump') {
      const out = pages.map((p) => ({ source_path: p.sp, ...extract(c, p.buf, p.sp) }));
      process.stdout.write(JSON.stringify(out) + '\n');
    } else if (cmd === 'quit') {
      rl.close();
    }
  });
}

main();
