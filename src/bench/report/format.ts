// Number and text formatting shared by the markdown report and the chart.
// Names reach these functions from the guest, so every function that puts
// text into markdown or SVG escapes it here, in one place.
import { secondsPerUnit } from '../metric.js';

/** Longest metric name shown; longer names are cut with an ellipsis. */
export const MAX_DISPLAY_NAME = 100;

const TIME_SCALES: [number, string][] = [
  [1, 's'],
  [1e-3, 'ms'],
  [1e-6, 'µs'],
  [1e-9, 'ns'],
];

/** Significant digits that keep a value readable without hiding a 1 % change. */
function trimmed(value: number, digits = 4): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e15 || abs < 1e-6) return value.toExponential(digits - 1);
  // toPrecision can switch to exponent notation for large values; avoid it below 1e15.
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return value.toFixed(Math.min(decimals, 12));
}

/** Picks one display scale for a set of values in a time unit, so a column or axis shares it. */
export function timeScaleFor(values: readonly number[], unit: string): { factor: number; unit: string } | null {
  const perUnit = secondsPerUnit(unit);
  if (perUnit === undefined) return null;
  const finite = values.filter((v) => Number.isFinite(v) && v !== 0).map((v) => Math.abs(v) * perUnit);
  const typical = finite.length > 0 ? Math.max(...finite) : perUnit;
  const [scale, name] = TIME_SCALES.find(([s]) => typical >= s) ?? TIME_SCALES[TIME_SCALES.length - 1]!;
  return { factor: perUnit / scale, unit: name };
}

/** "12.35 ms", "1.523 µs", "48,210 req/s", "0.93". */
export function formatValue(value: number, unit: string, digits = 4): string {
  const time = timeScaleFor([value], unit);
  if (time) return `${trimmed(value * time.factor, digits)} ${time.unit}`;
  const text = Math.abs(value) >= 1e4 && Math.abs(value) < 1e15 && Number.isInteger(Math.round(value))
    ? Math.round(value).toLocaleString('en-US')
    : trimmed(value, digits);
  return unit ? `${text} ${unit}` : text;
}

/** "+12.3%", "−4.0%", "0.0%": a real minus sign so columns read cleanly. */
export function formatPercent(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return `${text}%`;
  return `${value > 0 ? '+' : '−'}${text}%`;
}

/** Drops characters that cannot appear in XML 1.0 and replaces line breaks and tabs. */
export function cleanText(text: string, max = MAX_DISPLAY_NAME): string {
  let clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  clean = clean.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  clean = clean.replace(/[\ufffe\uffff]/g, '\ufffd');
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean;
}

/**
 * Text safe inside a GitHub-flavoured markdown table cell: no pipes or line
 * breaks, no HTML, no emphasis or links, and no @mentions or #references
 * that would notify people from a name the guest chose.
 */
export function escapeMarkdown(text: string, max = MAX_DISPLAY_NAME): string {
  return cleanText(text, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/@/g, '@\u2060')
    .replace(/#(?=\d)/g, '#\u2060')
    .replace(/:\/\//g, ':\u2060//');
}

export function escapeXml(text: string, max = MAX_DISPLAY_NAME): string {
  return cleanText(text, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
