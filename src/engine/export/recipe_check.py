"""Test helper for export.test.ts, not shipped: loads an exported recipe's train.py as a module (the standard library
is enough: torch and TRL are imported in its main()) and prints, as JSON, the run.json keys it reads (RUN["a"]["b"]
is "a.b"), the lines that use RUN otherwise, the settings as loaded, and the learning-rate multiplier per step.

    python3 recipe_check.py EXPORT/train.py
"""
import ast
import importlib.util
import json
import sys


def reads(tree):
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    keys, other = set(), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id != "RUN" or isinstance(node.ctx, ast.Store):
            continue
        chain, n = [], node
        while (
            isinstance(parents.get(n), ast.Subscript)
            and parents[n].value is n
            and isinstance(parents[n].slice, ast.Constant)
        ):
            n = parents[n]
            chain.append(str(n.slice.value))
        if chain:
            keys.add(".".join(chain))
        else:
            other.append(node.lineno)
    return sorted(keys), other


def main(path):
    with open(path, encoding="utf-8") as f:
        keys, other = reads(ast.parse(f.read()))
    spec = importlib.util.spec_from_file_location("train", path)
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    lr = [train.lr_lambda(k) for k in range(train.RUN["steps"])]
    print(json.dumps({"reads": keys, "other": other, "run": train.RUN, "lr": lr}))


if __name__ == "__main__":
    main(sys.argv[1])
