"""The commands that open the assistant to a team: ``serve``, ``keys`` and ``users`` (python -m rag).

    python -m rag serve [--host 127.0.0.1] [--port 8000]
    python -m rag keys create --name NAME [--kb KB ...] [--read-only]   # the key alone on the last line
    python -m rag keys list | keys revoke NAME
    python -m rag users add NAME --role ROLE [--kb KB ...] [--email E] [--password-stdin | --no-password]
    python -m rag users list | users remove NAME | users passwd NAME [--password-stdin] | users check

Passwords are read from a prompt (twice) or, with --password-stdin, from the first line of
standard input; never from the command line, where other users of the machine can read them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from rag.access import EVERY_KB, ROLES
from rag.apikeys import KeyStore, bind_refusal
from rag.config import Settings
from rag.users import UserStore

NO_USERS = (
    "no user can sign in yet: add one first, e.g. python -m rag users add NAME --role admin "
    "(then ./start.sh --share again)"
)


def add_commands(commands: Any) -> None:
    """Add serve, keys and users to the ``python -m rag`` sub-command parser."""
    serve = commands.add_parser("serve", help="the OpenAI-compatible HTTP API (FastAPI; docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    keys = commands.add_parser("keys", help="API keys for the HTTP API").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="make a key; it is printed once, alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--kb", action="append", default=[], help="limit the key to this KB (repeatable)")
    create.add_argument("--read-only", action="store_true", help="the key may ask and search, never change")
    keys.add_parser("list", help="the keys (names and limits; keys themselves are never stored)")
    keys.add_parser("revoke", help="delete a key").add_argument("name")
    users = commands.add_parser("users", help="people who sign in to the shared web app")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user with a role on some or all knowledge bases")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="reader")
    add.add_argument("--kb", action="append", default=[], help=f"KB the role applies to (default {EVERY_KB})")
    add.add_argument("--email", help="matches the address an OIDC identity provider signs them in with")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    secret.add_argument("--no-password", action="store_true", help="signs in only through OIDC (needs --email)")
    actions.add_parser("list", help="users, their roles and e-mail addresses")
    actions.add_parser("remove", help="delete a user").add_argument("name")
    passwd = actions.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    actions.add_parser("check", help="exit 1, saying how to add one, when no user exists (start.sh --share)")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask for the password on: pipe it in with --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _keys(args: argparse.Namespace, store: KeyStore) -> int:
    if args.action == "create":
        token = store.create(args.name, tuple(args.kb), args.read_only)
        scope = ", ".join(args.kb) if args.kb else "every knowledge base"
        print(f"created key '{args.name}' ({'read-only' if args.read_only else 'read-write'}, {scope}).")
        print("It is shown only now; send it as 'Authorization: Bearer KEY':")
        print(token)
    elif args.action == "list":
        for key in store.list():
            access = "read-only" if key.read_only else "read-write"
            print(f"{key.name}\t{access}\t{','.join(key.kbs) or EVERY_KB}\t{key.created_at}")
    elif not store.revoke(args.name):
        print(f"error: no key named '{args.name}'", file=sys.stderr)
        return 2
    else:
        print(f"revoked key '{args.name}'")
    return 0


def _users(args: argparse.Namespace, store: UserStore) -> int:
    if args.action == "add":
        password = None if args.no_password else _password(args.password_stdin)
        roles = dict.fromkeys(args.kb or [EVERY_KB], args.role)
        user = store.add(args.name, password, roles, args.email)
        print(f"added user '{user.name}': {', '.join(f'{role} of {kb}' for kb, role in user.roles.items())}")
    elif args.action == "list":
        for user in store.list():
            roles = ",".join(f"{kb}={role}" for kb, role in user.roles.items())
            sign_in = "password" if user.has_password else "oidc only"
            print(f"{user.name}\t{roles}\t{user.email or '-'}\t{sign_in}")
    elif args.action == "remove":
        if not store.remove(args.name):
            print(f"error: no user named '{args.name}'", file=sys.stderr)
            return 2
        print(f"removed user '{args.name}'")
    elif args.action == "passwd":
        if store.get(args.name) is None:
            print(f"error: no user named '{args.name}'", file=sys.stderr)
            return 2
        store.set_password(args.name, _password(args.password_stdin))
        print(f"password of '{args.name}' changed")
    elif not store.list():
        print(f"error: {NO_USERS}", file=sys.stderr)
        return 1
    return 0


def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run serve, keys or users; returns the exit code (ValueError etc. are reported by the caller)."""
    if args.command == "serve":
        refusal = bind_refusal(KeyStore(settings.data_dir), args.host)
        if refusal:  # said before the server's heavy imports
            print(f"error: {refusal}", file=sys.stderr)
            return 2
        from rag.server.serve import serve

        return serve(settings, args.host, args.port)
    if args.command == "keys":
        return _keys(args, KeyStore(settings.data_dir))
    return _users(args, UserStore(settings.data_dir))
