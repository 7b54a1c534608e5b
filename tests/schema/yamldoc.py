# SPDX-License-Identifier: GPL-2.0-only
"""Reading manifests for the schema checks: the document and where its
nodes are.

A YAML loader keeps the last of two equal keys in a mapping and says
nothing, so a document validated after loading would never show them;
cnf-apply refuses them ("duplicate key"). load() refuses them too, with
the line of the second key, before the schema sees the document.
"""
import yaml

# libyaml's parser where PyYAML has it, as cnf-apply uses libyaml: the
# same syntax errors, at the same lines.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(yaml.MarkedYAMLError):
    pass


def _check_duplicates(root):
    seen_nodes = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))   # aliases share nodes, cycles included
        if isinstance(node, yaml.MappingNode):
            keys = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    first = keys.setdefault((k.tag, k.value), k)
                    if first is not k:
                        raise DuplicateKey(
                            problem="duplicate key '%s' (first at line %d)"
                            % (k.value, first.start_mark.line + 1),
                            problem_mark=k.start_mark)
                todo += [k, v]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value


def load(data):
    """bytes or str -> (document, root node). Raises yaml.YAMLError for
    what any YAML loader refuses and for duplicate keys."""
    loader = _Loader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_duplicates(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def error_line(err, data):
    """The 1-based line a yaml.YAMLError points at, or None."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    pos = getattr(err, "position", None)  # yaml.reader.ReaderError: bad bytes
    if pos is not None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        return data[:pos].count(b"\n") + 1
    return None


def _last_line(node):
    m = node.end_mark
    # A block collection ends at the start of the line after it.
    return m.line + 1 if m.column > 0 else max(m.line, node.start_mark.line + 1)


def span(root, path):
    """First and last line (1-based) of the node at path, a list of keys
    and indexes as jsonschema gives them. A mapping value starts at its
    key's line. Where the path leaves the document (a missing key), the
    span of the last node on it that exists."""
    if root is None:
        return 1, 1
    node, first = root, root.start_mark.line + 1
    for comp in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(comp):
                    nxt, key_line = v, k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(comp, int) \
                and 0 <= comp < len(node.value):
            nxt = node.value[comp]
            key_line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node, first = nxt, key_line
    return first, max(first, _last_line(node))
