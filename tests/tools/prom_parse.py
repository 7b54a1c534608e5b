#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Parse Prometheus text exposition (stdin) with prometheus_client's own
parser, the one Prometheus' Python ecosystem uses, and print it as JSON:

    {"families": {NAME: TYPE}, "samples": [{"name", "labels", "value"}]}

Exit 1 with a message when the text does not parse, a series appears
twice, or a family has no HELP/TYPE. Run it with Debian's /usr/bin/python3
(python3-prometheus-client)."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    doc = {'families': {}, 'samples': []}
    seen = set()
    try:
        for fam in text_string_to_metric_families(text):
            if fam.type == 'unknown' or not fam.documentation:
                raise ValueError('family %s without TYPE or HELP' % fam.name)
            doc['families'][fam.name] = fam.type
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in seen:
                    raise ValueError('duplicate series %s %s' % key)
                seen.add(key)
                doc['samples'].append({'name': s.name, 'labels': s.labels, 'value': s.value})
    except ValueError as e:
        print('prom_parse: %s' % e, file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout)
    print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
