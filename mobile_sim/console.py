"""The terminal side of the CLI: where lines go, how errors read, and questions on stdin.

With `--json` stdout carries exactly one JSON object (the result or the error); everything meant
for a person (the login's details, prompts) goes to stderr, so scripts can still answer prompts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
from typing import Any, TextIO

from mobile_sim.errors import PhoneError

MAX_TRIES = 3


class Cancelled(Exception):
    """The user closed stdin or gave up answering: the phone cancels (取消)."""


class Console:
    def __init__(self, *, as_json: bool, stdin: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stdin = stdin or sys.stdin
        self.human: TextIO = sys.stderr if as_json else sys.stdout

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.human, flush=True)

    def result(self, body: dict[str, Any], *lines: str) -> None:
        if self.as_json:
            print(json.dumps({"ok": True, **body}, ensure_ascii=False), flush=True)
        else:
            self.say(*lines)

    def error(self, exc: PhoneError) -> None:
        if self.as_json:
            body = {"ok": False, **exc.as_dict()}
            if exc.detail:
                body["detail"] = exc.detail
            print(json.dumps(body, ensure_ascii=False), flush=True)
            return
        print(f"错误：{exc.zh}", file=sys.stderr)
        print(f"Error: {exc.en} [{exc.code}]", file=sys.stderr, flush=True)

    async def ask(self, prompt: str) -> str:
        """One line from stdin; end of input cancels."""
        print(prompt, end="", file=self.human, flush=True)
        line = await read_line(self.stdin)
        if not line:
            self.say("")
            raise Cancelled("end of input")
        return line.strip()

    async def choose(self, prompt: str, count: int) -> int:
        """A number in 1..count (Enter picks 1 when there is only one); index from 0."""
        for _ in range(MAX_TRIES):
            answer = await self.ask(prompt)
            if not answer and count == 1:
                return 0
            if answer.isdigit() and 1 <= int(answer) <= count:
                return int(answer) - 1
            self.say(f"请输入 1 到 {count} 之间的数字 (enter a number from 1 to {count})")
        raise Cancelled("no valid choice")

    async def yes_no(self, prompt: str) -> bool:
        """[y/N]: only an explicit yes is a yes."""
        for _ in range(MAX_TRIES):
            answer = (await self.ask(prompt)).lower()
            if answer in ("y", "yes", "是", "确认"):
                return True
            if answer in ("", "n", "no", "否", "取消"):
                return False
            self.say("请输入 y 或 n (answer y or n)")
        raise Cancelled("no valid answer")


def read_line(stream: TextIO) -> asyncio.Future[str]:
    """stdin.readline in a daemon thread: Ctrl-C at a prompt ends the program at once instead
    of waiting, as the default executor would, for a line that never comes."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str) -> None:
        if not future.done():
            future.set_result(line)

    def run() -> None:
        try:
            line = stream.readline()
        except (OSError, ValueError):
            line = ""
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            loop.call_soon_threadsafe(deliver, line)

    threading.Thread(target=run, name="stdin", daemon=True).start()
    return future
