// Renders untrusted text with math into DOM nodes. Plain text becomes text nodes; TeX goes through KaTeX
// with `trust: false` (no \href, \url, \htmlClass, \includegraphics…) and its markup is then filtered
// against an allowlist in an inert <template>, so even a KaTeX bug cannot hand a model a live link,
// an event handler or a script.

import katex from 'katex';
import { splitMath } from './math-segments.ts';

const KATEX_OPTIONS = {
  throwOnError: false,
  trust: false,
  strict: 'ignore',
  output: 'html',
  // Bounds on macro expansion and sizes: a model can emit a TeX bomb.
  maxExpand: 200,
  maxSize: 20,
} as const;

const ALLOWED_TAGS = new Set(['span', 'svg', 'path', 'line', 'g', 'rect', 'br']);
const ALLOWED_ATTRS = new Set(['class', 'style', 'aria-hidden', 'title', 'width', 'height', 'viewbox', 'preserveaspectratio', 'd', 'x1', 'x2', 'y1', 'y2', 'x', 'y', 'stroke-width', 'fill', 'stroke']);

function cleanTree(root: ParentNode): void {
  for (const el of [...root.querySelectorAll('*')]) {
    if (!ALLOWED_TAGS.has(el.localName)) {
      // Keep the text of anything unexpected, never the element.
      el.replaceWith(document.createTextNode(el.textContent ?? ''));
      continue;
    }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      const bad = !ALLOWED_ATTRS.has(name) || (name === 'style' && /url\s*\(|expression|@import|javascript:/i.test(attr.value));
      if (bad) el.removeAttribute(attr.name);
    }
  }
}

/** KaTeX markup for one TeX fragment, filtered; falls back to the source text. */
export function renderTex(tex: string, display: boolean): Node {
  const wrap = document.createElement('span');
  wrap.className = display ? 'math math-display' : 'math math-inline';
  let html: string;
  try {
    html = katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display });
  } catch {
    wrap.textContent = tex;
    return wrap;
  }
  const tpl = document.createElement('template');
  tpl.innerHTML = html; // inert: template content runs nothing and loads nothing
  cleanTree(tpl.content);
  wrap.append(tpl.content);
  return wrap;
}

/** Text with math, as a fragment of text nodes and filtered KaTeX output. */
export function renderMathText(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  for (const seg of splitMath(text)) {
    frag.append(seg.kind === 'text' ? document.createTextNode(seg.text) : renderTex(seg.tex, seg.display));
  }
  return frag;
}

/** Replaces an element's content with rendered text. */
export function setMathText(el: Element, text: string): void {
  el.replaceChildren(renderMathText(text));
}
