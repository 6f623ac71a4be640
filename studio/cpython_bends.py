"""Where Studio works around CPython 3.11's own frame stack, and why.

CPython keeps a thread's Python frames in 16 KiB chunks. In 3.11 the call that crosses into
a new chunk maps it (mmap), and the return that leaves it unmaps it (munmap) at once: a loop
whose calls sit at a chunk's edge pays two system calls and a page fault on every call
(python/cpython#142183; the 3.13 and 3.14 releases since March 2026 keep one chunk back).
Rendering a run page is such a loop, a template node a call, and whether a page sits at an
edge depends on how deep the middleware, the handler and the templates happen to be (the
figures: bench/findings.md#frame-stack-chunks).

`OneDeepThread` is an executor of one long-lived thread whose loop runs on top of one frame
made to reserve most of a large chunk: every job's frames then start in that chunk, which has
room for any page's depth and is mapped once, for the thread's life. The frame's size is its
code object's `co_stacksize`, raised with `CodeType.replace` (public; an overestimate is
harmless: the slots are reserved, never touched, so never faulted in). Mapping a chunk per
job instead would cost the agents' endpoints a system call pair and page faults every POST.
tests/test_library_bends.py fails on a Python this was not written for: on another, check
whether it still pays.
"""

import queue
import threading
from concurrent.futures import Executor, Future

# The Python version (major, minor) this was written for and checked against.
WRITTEN_FOR = (3, 11)

# CPython 3.11 sizes a new chunk as 16 KiB doubled until it holds the frame plus 1,000 slots
# (Python/pystate.c, push_chunk): a frame of 17,000 slots gets a 256 KiB chunk, which leaves
# about 15,700 slots above it for the jobs' frames. A deeper stack only starts another chunk,
# as it would anyway.
RESERVED_SLOTS = 17_000


def _run(job, args, kwargs):
    return job(*args, **kwargs)


_run.__code__ = _run.__code__.replace(co_stacksize=_run.__code__.co_stacksize + RESERVED_SLOTS)


def on_a_chunk_of_its_own(job, *args, **kwargs):
    """Call `job` with its frames in a fresh chunk of CPython's frame stack."""
    return _run(job, args, kwargs)


class OneDeepThread(Executor):
    """An executor of one thread, which runs its jobs one at a time, in order, on its own chunk.

    As asgiref's ThreadSensitiveContext needs of an executor. The thread is a daemon, as it
    lives as long as the server: it is not joined at exit.
    """

    def __init__(self, name):
        self._jobs = queue.SimpleQueue()
        self._shutdown = False
        self._thread = threading.Thread(target=on_a_chunk_of_its_own, args=(self._serve,), name=name, daemon=True)
        self._thread.start()

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _serve(self):
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            del job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                    del result
            # Waiting for the next job, this thread holds nothing of the last one.
            del future, fn, args, kwargs
