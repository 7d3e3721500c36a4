#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""doc-check.py - the checks of scripts/lint.sh on Documentation/.

  doc-check.py rst FILE.rst...
      parses each file with docutils (what Sphinx builds on) and prints
      every warning or error; the kernel's Sphinx extensions are stubbed
      (kernel-doc:: is checked by the other command, not here).

  doc-check.py examples FILE.rst...
      compiles every ".. code-block:: c" of the files that holds a main()
      with gcc -Wall -Wextra -Werror against include/uapi, and prints what
      the compiler says.

  doc-check.py kernel-doc KERNEL_DOC_SCRIPT FILE.rst...
      runs scripts/kernel-doc as the kernel's Sphinx extension does for
      each ".. kernel-doc::" directive and prints what is wrong: a file
      that does not exist, a name of :functions: / :identifiers: / :doc:
      that kernel-doc does not find, any warning, an :export: that finds
      no exported function or misses one.  Then every module/*.c file that
      exports a symbol must have an :export: directive, so that an export
      moved to another file cannot drop out of the documentation.

The directives name paths as in a kernel tree that scripts/jury-rig.sh
prepared, drivers/misc/ksalloc/...; they are mapped to this repository.
Prints nothing when everything is right; exits 1 otherwise.
"""

import io
import os
import re
import subprocess
import sys
import tempfile
import textwrap

PREFIX = 'drivers/misc/ksalloc/'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The sphinx version kernel-doc should write for (c:function and friends).
SPHINX = '3.4.3'
DIRECTIVE_RE = re.compile(r'^\.\. kernel-doc::\s*(\S+)\s*$')
OPTION_RE = re.compile(r'^\s+:([a-z-]+):\s*(.*)$')
# Upstream 6.13 and later namespaces are strings; the kernel-doc of 6.12,
# which lint runs, knows only the bare token of before.
EXPORT_RE = re.compile(r'^(\s*EXPORT_SYMBOL_NS(?:_GPL)?\s*\(\s*\w+\s*,\s*)"(\w+)"(\s*\)\s*;)',
                       re.M)
EXPORTED_RE = re.compile(r'^\s*EXPORT_SYMBOL(?:_NS)?(?:_GPL)?\s*\(\s*(\w+)\s*[,)]', re.M)
DECL_RE = re.compile(r'^\.\. c:(?:function|struct|union|enum|type|macro)::\s*(.*)$', re.M)


def directives(rst):
    """(line, path, {option: value}) for each kernel-doc directive."""
    out = []
    with open(rst) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines):
        m = DIRECTIVE_RE.match(line)
        if not m:
            continue
        opts = {}
        for more in lines[n + 1:]:
            o = OPTION_RE.match(more)
            if not o:
                break
            opts[o.group(1)] = o.group(2)
        out.append((n + 1, m.group(1), opts))
    return out


def local(path):
    """The repository file of a kernel-tree path, or None."""
    if not path.startswith(PREFIX):
        return None
    return os.path.join(REPO, path[len(PREFIX):])


def kernel_doc(script, args, path):
    """kernel-doc's rst output and its warnings, for path."""
    p = subprocess.run([script, '-rst', '-sphinx-version', SPHINX] + args + [path],
                       capture_output=True, text=True)
    warnings = [w for w in p.stderr.splitlines() if w.strip()]
    if p.returncode:
        warnings.append(f'kernel-doc exited {p.returncode}')
    return p.stdout, warnings


def declared(rst_out):
    """The names kernel-doc wrote a declaration for."""
    names = set()
    for decl in DECL_RE.findall(rst_out):
        m = re.search(r'(\w+)\s*\(', decl) or re.search(r'(\w+)\s*$', decl)
        if m:
            names.add(m.group(1))
    return names


def check_export(script, path, where, opt):
    """The problems of an :export: (or :internal:) directive on path."""
    problems = []
    with open(path) as f:
        text = f.read()
    exported = set(EXPORTED_RE.findall(text))
    exported.discard('')
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        with open(copy, 'w') as f:
            f.write(EXPORT_RE.sub(r'\1\2\3', text))
        out, warnings = kernel_doc(script, ['-' + opt], copy)
    problems += [f'{where}: {w.replace(copy, path)}' for w in warnings]
    found = declared(out)
    if opt == 'export':
        # EXPORT_SYMBOL_IF_KUNIT() is for the tests, not an API.
        api = {s for s in exported
               if re.search(rf'EXPORT_SYMBOL(_NS)?(_GPL)?\s*\(\s*{s}\b', text)}
        if not api:
            problems.append(f'{where}: :export: but {path} exports nothing')
        for s in sorted(api - found):
            problems.append(f'{where}: {s} is exported but kernel-doc has no comment for it')
    elif not out.strip():
        problems.append(f'{where}: :{opt}: finds nothing in {path}')
    return problems


def check_directive(script, rst, line, kpath, opts):
    """The problems of one directive."""
    where = f'{rst}:{line}'
    path = local(kpath)
    if path is None:
        return [f'{where}: {kpath} is not under {PREFIX}']
    if not os.path.isfile(path):
        return [f'{where}: {kpath}: no such file {os.path.relpath(path, REPO)}']
    for opt in ('export', 'internal'):
        if opt in opts:
            return check_export(script, path, where, opt)
    names = []
    if 'doc' in opts:
        names = [opts['doc']]
    else:
        names = (opts.get('identifiers') or opts.get('functions') or '').split()
    args = []
    for n in names:
        args += ['-function', n]
    out, warnings = kernel_doc(script, args, path)
    problems = [f'{where}: {w}' for w in warnings]
    if 'doc' in opts:
        if not out.strip():
            problems.append(f'{where}: no DOC: section "{opts["doc"]}" in {kpath}')
    else:
        found = declared(out)
        problems += [f'{where}: kernel-doc finds no {n} in {kpath}'
                     for n in names if n not in found]
        if not names and not out.strip():
            problems.append(f'{where}: kernel-doc finds no comment in {kpath}')
    return problems


def kernel_doc_main(script, files):
    problems, exported_files = [], set()
    for rst in files:
        for line, kpath, opts in directives(rst):
            problems += check_directive(script, rst, line, kpath, opts)
            if 'export' in opts and local(kpath):
                exported_files.add(os.path.realpath(local(kpath)))
    moddir = os.path.join(REPO, 'module')
    for name in sorted(os.listdir(moddir)):
        path = os.path.join(moddir, name)
        if not name.endswith('.c'):
            continue
        with open(path) as f:
            text = f.read()
        if re.search(r'^\s*EXPORT_SYMBOL(_NS)?(_GPL)?\s*\(', text, re.M) and \
           os.path.realpath(path) not in exported_files:
            problems.append(f'module/{name} exports symbols but no '
                            f'".. kernel-doc:: {PREFIX}module/{name}" with :export: '
                            'documents them')
    return problems


def rst_main(files):
    from docutils import nodes, utils
    from docutils.core import publish_doctree
    from docutils.parsers.rst import Directive, directives, roles

    class Stub(Directive):
        """A Sphinx directive: its content is not checked here."""
        has_content = True
        optional_arguments = 10
        final_argument_whitespace = True
        option_spec = None

        def run(self):
            return []

    class AnyOptions(dict):
        def __missing__(self, key):
            return directives.unchanged

    Stub.option_spec = AnyOptions()
    for name in ('kernel-doc', 'toctree', 'c:function', 'c:struct', 'c:macro',
                 'c:type', 'c:enum', 'only', 'flat-table'):
        directives.register_directive(name, Stub)

    def stub_role(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, utils.unescape(text))], []

    for name in ('c:func', 'c:type', 'c:macro', 'c:struct', 'ref', 'doc', 'manpage'):
        roles.register_local_role(name, stub_role)

    problems = []
    for rst in files:
        with open(rst) as f:
            text = f.read()
        stream = io.StringIO()
        doctree = publish_doctree(text, source_path=rst, settings_overrides={
            'report_level': 2, 'halt_level': 5, 'warning_stream': stream})
        problems += [l for l in stream.getvalue().splitlines() if l.strip()]
        if not any(isinstance(n, nodes.title) for n in doctree.traverse()):
            problems.append(f'{rst}: no title')
    return problems


def code_blocks(rst):
    """(line, code) of each C code-block of rst, dedented."""
    with open(rst) as f:
        lines = f.read().splitlines()
    blocks = []
    for n, line in enumerate(lines):
        if not re.match(r'^\.\. code-block::\s*c\s*$', line):
            continue
        body = []
        for more in lines[n + 1:]:
            if more.strip() and not more[0].isspace():
                break
            body.append(more)
        blocks.append((n + 1, textwrap.dedent('\n'.join(body)).strip('\n') + '\n'))
    return blocks


def examples_main(files):
    problems = []
    for rst in files:
        for line, code in code_blocks(rst):
            if not re.search(r'\bmain\s*\(', code):
                continue
            p = subprocess.run(['gcc', '-std=gnu11', '-Wall', '-Wextra', '-Werror',
                                '-I', os.path.join(REPO, 'include/uapi'),
                                '-x', 'c', '-c', '-o', os.devnull, '-'],
                               input=code, capture_output=True, text=True)
            if p.returncode or p.stderr.strip():
                problems.append(f'{rst}:{line}: the example does not compile:')
                problems += ['  ' + l for l in p.stderr.splitlines()]
    return problems


def main(argv):
    if len(argv) >= 2 and argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        return 0
    if len(argv) >= 3 and argv[1] == 'rst':
        problems = rst_main(argv[2:])
    elif len(argv) >= 3 and argv[1] == 'examples':
        problems = examples_main(argv[2:])
    elif len(argv) >= 4 and argv[1] == 'kernel-doc':
        problems = kernel_doc_main(argv[2], argv[3:])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
