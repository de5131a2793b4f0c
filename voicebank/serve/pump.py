"""Moving a blocking byte producer (engine + encoder) onto a worker thread, and off it at once when the client leaves.

The engine's chunk generator and the encoder block (ONNX Runtime, ffmpeg pipes), so they
run on a thread of their own; the event loop only awaits finished pieces. At most
``depth`` pieces wait between the two: a slow client holds synthesis back instead of
letting it pile up in memory. :meth:`BytePump.stop` ends the producer between two
pieces and closes it on its own thread (a generator must be closed where it runs).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

_END = object()
_POLL = 0.05  # seconds a blocked producer waits before it looks at the stop flag again


class BytePump:
    """Runs ``produce()`` on a worker thread and hands its pieces to the event loop, in order."""

    def __init__(self, produce: Callable[[], Iterator[bytes]], depth: int = 8, name: str = "voicebank-stream") -> None:
        self._produce = produce
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = threading.Semaphore(depth)
        self._stopped = threading.Event()
        self.finished = threading.Event()  # set once the producer is closed, whatever the reason
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the producer to end; it is closed on its own thread before the next piece."""
        self._stopped.set()
        self._room.release()  # wake a producer that waits for room

    async def next_piece(self) -> bytes | None:
        """The producer's next piece; None after its last. Its error is raised here."""
        item = await self._queue.get()
        self._room.release()
        if item is _END:
            self._queue.put_nowait(_END)  # asked again: still the end
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (piece := await self.next_piece()) is not None:
            yield piece

    def _hand_over(self, item: Any) -> bool:
        """Queue one item for the loop once there is room; False when stopped meanwhile."""
        while not self._room.acquire(timeout=_POLL):
            if self._stopped.is_set():
                return False
        if self._stopped.is_set():
            return False
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down)
            return False
        return True

    def _run(self) -> None:
        pieces = self._produce()
        try:
            for data in pieces:
                if not self._hand_over(data):
                    return
            self._hand_over(_END)
        except BaseException as exc:  # handed to the loop, which raises it in the response
            self._hand_over(exc)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # runs the producer's own cleanup (abort the encoder, close the engine's stream)
            self.finished.set()


class StreamedResponse(StreamingResponse):
    """A streaming response that notices a client that leaves, and always calls ``on_done``.

    Starlette notices a departed client only when a send fails; this one also listens for
    ``http.disconnect`` while it streams, so synthesis stops while the next piece is still
    being computed. ``on_done`` runs even when the body was never started.
    """

    def __init__(self, content: Any, on_done: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        failure: list[Exception] = []
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:  # the client went away between two pieces
                        pass
                    except Exception as exc:  # raised below, outside the group, so the server aborts the response
                        failure.append(exc)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self._on_done()
        if failure:
            raise failure[0]
