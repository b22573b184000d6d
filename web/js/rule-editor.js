// The segment rule editor: a list of conditions joined by "all" or "any", or the rule as JSON when
// it nests deeper. The API validates the rule; its errors name paths such as rule.all.2.value,
// which land next to that condition's field.
import { html } from './html.js';
import { Field, FieldError, described } from './ui.js';

const OPS = [
  ['eq', 'is'],
  ['neq', 'is not'],
  ['in', 'is one of'],
  ['nin', 'is none of'],
  ['gt', 'is greater than'],
  ['gte', 'is at least'],
  ['lt', 'is less than'],
  ['lte', 'is at most'],
  ['contains', 'contains'],
  ['startsWith', 'starts with'],
  ['exists', 'has a value'],
  ['notExists', 'has no value'],
];
const OP_TEXT = Object.fromEntries(OPS);
const NO_VALUE = new Set(['exists', 'notExists']);
const LIST_VALUE = new Set(['in', 'nin']);

const isCondition = (rule) => rule !== null && typeof rule === 'object' && typeof rule.op === 'string';

/** A rule in words, for the segment list. */
export function ruleText(rule) {
  if (!rule || typeof rule !== 'object') return String(rule);
  const part = (r) => (isCondition(r) ? ruleText(r) : `(${ruleText(r)})`);
  if (Array.isArray(rule.all)) return rule.all.length ? rule.all.map(part).join(' and ') : 'every profile';
  if (Array.isArray(rule.any)) return rule.any.length ? rule.any.map(part).join(' or ') : 'no profile';
  if (rule.not) return `not ${part(rule.not)}`;
  return `${rule.attribute} ${OP_TEXT[rule.op] ?? rule.op}${rule.value === undefined ? '' : ` ${JSON.stringify(rule.value)}`}`;
}

const typeOf = (value) => {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'number' ? 'number' : typeof first === 'boolean' ? 'boolean' : 'text';
};

const rowOf = (c) => ({
  attribute: c.attribute ?? '',
  op: c.op,
  as: typeOf(c.value),
  value: Array.isArray(c.value) ? c.value.join(', ') : c.value === undefined ? '' : String(c.value),
});

export function editorFromRule(rule) {
  const json = JSON.stringify(rule, null, 2);
  if (isCondition(rule)) return { mode: 'builder', combinator: 'all', conditions: [rowOf(rule)], json };
  const combinator = Array.isArray(rule?.all) ? 'all' : Array.isArray(rule?.any) ? 'any' : null;
  if (combinator && rule[combinator].every(isCondition)) return { mode: 'builder', combinator, conditions: rule[combinator].map(rowOf), json };
  return { mode: 'json', combinator: 'all', conditions: [], json };
}

const valueOf = (text, as) => {
  if (as === 'number') return text.trim() === '' ? text : Number(text);
  if (as === 'boolean') return text === 'true';
  return text;
};

function conditionOf(row) {
  if (NO_VALUE.has(row.op)) return { attribute: row.attribute.trim(), op: row.op };
  const value = LIST_VALUE.has(row.op)
    ? row.value.split(',').map((v) => v.trim()).filter(Boolean).map((v) => valueOf(v, row.as))
    : valueOf(row.value, row.as);
  return { attribute: row.attribute.trim(), op: row.op, value };
}

/** The rule to send; JSON that does not parse is reported like an API error on the rule. */
export function ruleFromEditor(editor) {
  if (editor.mode === 'builder') return { [editor.combinator]: editor.conditions.map(conditionOf) };
  try {
    return JSON.parse(editor.json);
  } catch (err) {
    const message = `not valid JSON (${err.message})`;
    throw Object.assign(new Error(`The rule is ${message}.`), { details: [{ path: ['body', 'rule'], message }] });
  }
}

/** The form fields the API's rule errors can name. */
export function ruleFields(editor) {
  if (editor.mode === 'json') return ['rule'];
  const base = `rule.${editor.combinator}`;
  return ['rule', base, ...editor.conditions.flatMap((_, i) => [`${base}.${i}`, ...['attribute', 'op', 'value'].map((k) => `${base}.${i}.${k}`)])];
}

export function RuleEditor({ editor, onChange, attributes, errors }) {
  const update = (changes) => onChange({ ...editor, ...changes });
  const switchMode = (mode) => {
    if (mode === editor.mode) return;
    if (mode === 'json') return update({ mode, json: JSON.stringify(ruleFromEditor(editor), null, 2) });
    let rule;
    try {
      rule = JSON.parse(editor.json);
    } catch {
      return update({ mode: 'json' });
    }
    const next = editorFromRule(rule);
    onChange(next.mode === 'builder' ? next : { ...editor, jsonOnly: true });
  };
  return html`<fieldset>
    <legend>Rule</legend>
    <div class="row" role="radiogroup" aria-label="Edit the rule as">
      <label class="choice"><input type="radio" name="rule-mode" checked=${editor.mode === 'builder'} onChange=${() => switchMode('builder')} /> Conditions</label>
      <label class="choice"><input type="radio" name="rule-mode" checked=${editor.mode === 'json'} onChange=${() => switchMode('json')} /> JSON</label>
    </div>
    ${editor.jsonOnly && editor.mode === 'json' && html`<p class="hint">This rule nests groups: edit it as JSON.</p>`}
    ${editor.mode === 'builder'
      ? html`<${Conditions} editor=${editor} update=${update} attributes=${attributes} errors=${errors} />`
      : html`<${Field} id="rule-json" label="Rule (JSON)" error=${errors.rule} hint='{"all": [...]}, {"any": [...]}, {"not": …} or a condition {"attribute", "op", "value"}'>
          <textarea rows="10" spellcheck="false" value=${editor.json} onInput=${(e) => update({ json: e.target.value })} ...${described('rule-json', errors.rule, true)}></textarea>
        </${Field}>`}
  </fieldset>`;
}

function Conditions({ editor, update, attributes, errors }) {
  const base = `rule.${editor.combinator}`;
  const types = new Map(attributes.map((a) => [a.name, a.types]));
  const setRow = (i, changes) => update({ conditions: editor.conditions.map((r, j) => (j === i ? { ...r, ...changes } : r)) });
  const setAttribute = (i, attribute) => {
    const t = types.get(attribute) ?? [];
    setRow(i, { attribute, ...(t.length ? { as: t.includes('number') ? 'number' : t.includes('boolean') ? 'boolean' : 'text' } : {}) });
  };
  return html`
    <div class="field">
      <label for="rule-combinator">Profiles match</label>
      <select id="rule-combinator" value=${editor.combinator} onChange=${(e) => update({ combinator: e.target.value })}>
        <option value="all">all of these conditions</option>
        <option value="any">any of these conditions</option>
      </select>
    </div>
    <datalist id="rule-attributes">${attributes.map((a) => html`<option value=${a.name}>${a.profiles.toLocaleString()} profiles</option>`)}</datalist>
    ${editor.conditions.length === 0 &&
    html`<p class="hint">${editor.combinator === 'all' ? 'No condition: every profile matches.' : 'No condition: no profile matches.'}</p>`}
    <ol class="conditions">
      ${editor.conditions.map((row, i) => {
        const at = (k) => errors[`${base}.${i}.${k}`];
        const id = (k) => `rule-${i}-${k}`;
        return html`<li key=${i} class="row condition">
          <${Field} id=${id('attribute')} label="Attribute" error=${at('attribute')}>
            <input type="text" list="rule-attributes" value=${row.attribute} onInput=${(e) => setAttribute(i, e.target.value)} ...${described(id('attribute'), at('attribute'))} />
          </${Field}>
          <${Field} id=${id('op')} label="Operator" error=${at('op')}>
            <select value=${row.op} onChange=${(e) => setRow(i, { op: e.target.value })} ...${described(id('op'), at('op'))}>
              ${OPS.map(([op, text]) => html`<option value=${op}>${text}</option>`)}
            </select>
          </${Field}>
          ${!NO_VALUE.has(row.op) && html`<${ValueFields} row=${row} i=${i} setRow=${setRow} error=${at('value')} />`}
          <button type="button" class="link" onClick=${() => update({ conditions: editor.conditions.filter((_, j) => j !== i) })}>Remove<span class="sr-only"> condition ${i + 1}</span></button>
          <${FieldError} id=${id('row')} error=${errors[`${base}.${i}`]} />
        </li>`;
      })}
    </ol>
    <button type="button" onClick=${() => update({ conditions: [...editor.conditions, { attribute: '', op: 'eq', as: 'text', value: '' }] })}>Add a condition</button>
    <${FieldError} id="rule" error=${errors.rule ?? errors[base]} />
  `;
}

function ValueFields({ row, i, setRow, error }) {
  const id = `rule-${i}-value`;
  const list = LIST_VALUE.has(row.op);
  return html`
    <${Field} id=${`rule-${i}-as`} label="Value type">
      <select id=${`rule-${i}-as`} value=${row.as} onChange=${(e) => setRow(i, { as: e.target.value })}>
        <option value="text">text</option>
        <option value="number">number</option>
        <option value="boolean">yes / no</option>
      </select>
    </${Field}>
    <${Field} id=${id} label=${list ? 'Values (comma-separated)' : 'Value'} error=${error}>
      ${row.as === 'boolean' && !list
        ? html`<select value=${row.value === 'true' ? 'true' : 'false'} onChange=${(e) => setRow(i, { value: e.target.value })} ...${described(id, error)}>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>`
        : html`<input type="text" value=${row.value} onInput=${(e) => setRow(i, { value: e.target.value })} ...${described(id, error)} />`}
    </${Field}>
  `;
}
