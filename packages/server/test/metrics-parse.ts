import parsePrometheusTextFormat, { type PrometheusFamily } from "parse-prometheus-text-format";

/** Prometheus text parsed by an independent parser, with lookups by name and labels. */
export class ParsedMetrics {
  readonly families: Map<string, PrometheusFamily>;
  constructor(text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  }

  type(name: string): string | undefined {
    return this.families.get(name)?.type;
  }

  /** The value of the series of `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const family = this.families.get(name);
    const sample = family?.metrics.find((m) =>
      Object.entries(labels).every(([key, value]) => m.labels?.[key] === value),
    );
    return sample?.value === undefined ? undefined : Number(sample.value);
  }

  /** Every series of `name` as "label=value,... → value". */
  series(name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.families.get(name)?.metrics ?? []) {
      const key = Object.entries(m.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      out[key] = Number(m.value);
    }
    return out;
  }
}
