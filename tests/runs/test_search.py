"""Full-text search over a project's messages (runs/search.py), on SQLite and on PostgreSQL."""

import pytest

from runs import search
from runs.models import Message
from tests.factories import make_message, make_project, make_reply, make_run, msg, push, register
from tests.support.backends import ON_POSTGRES

pytestmark = pytest.mark.django_db


def text(value):
    return {"type": "text", "text": value}


def found(project, query, **kwargs):
    return [hit.msg_id for hit in search.search(project, query, **kwargs).hits]


@pytest.fixture
def reply():
    return make_reply(make_run("run-1", "Weather"), "reply-1")


def test_it_finds_a_message_by_a_word_of_its_text(reply):
    make_message(reply, "m1", [text("The weather in Paris is sunny")])
    make_message(reply, "m2", [text("Nothing to see")])
    assert found(reply.run.project, "paris") == ["m1"]


def test_it_needs_every_word(reply):
    make_message(reply, "m1", [text("sunny in Paris")])
    make_message(reply, "m2", [text("rainy in Paris")])
    assert found(reply.run.project, "Paris sunny") == ["m1"]


def test_it_searches_thinking_and_tool_names_but_not_tool_results(reply):
    make_message(reply, "think", [{"type": "thinking", "thinking": "maybe umbrella"}])
    make_message(reply, "call", [{"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}}])
    make_message(
        reply,
        "result",
        [{"type": "tool_result", "id": "c1", "name": "x", "output": [text("hailstorm")]}],
    )
    project = reply.run.project
    assert found(project, "umbrella") == ["think"]
    assert found(project, "get_weather") == ["call"]
    assert found(project, "hailstorm") == []


def test_a_plain_string_content_is_searched(reply):
    Message.objects.create(run=reply.run, reply=reply, msg_id="s", content="plain words here")
    assert found(reply.run.project, "words") == ["s"]


def test_a_streamed_message_is_found_by_its_last_content_only(client):
    register(client, "run-s", project="Stream")
    message = msg("m-stream", content=[text("first draft")])
    push(client, message, run_id="run-s")
    push(client, {**message, "content": [text("final answer")]}, run_id="run-s")
    project = make_project("Stream")
    assert found(project, "draft") == []
    assert found(project, "final") == ["m-stream"]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index; PostgreSQL's follows the content by itself")
def test_a_push_leaves_its_message_to_be_indexed_and_a_search_indexes_it_first(client):
    register(client, "run-q", project="Queue")
    message = msg("m-q", content=[text("draft")])
    push(client, message, run_id="run-q")
    for words_so_far in ("draft one", "draft one two", "final three"):
        push(client, {**message, "content": [text(words_so_far)]}, run_id="run-q")
    # Above the mark: the re-sends of a message not indexed yet queue nothing.
    assert (unindexed(), queued(), indexed()) == (1, 0, 0)
    assert found(make_project("Queue"), "three") == ["m-q"]
    assert found(make_project("Queue"), "draft") == []
    assert (unindexed(), queued(), indexed()) == (0, 0, 1)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
def test_a_re_send_of_an_indexed_message_is_queued_once(client):
    register(client, "run-r", project="Resend")
    message = msg("m-r", content=[text("draft")])
    push(client, message, run_id="run-r")
    assert search.index_pending() == 1
    for words_so_far in ("draft one", "draft one two", "final three"):
        push(client, {**message, "content": [text(words_so_far)]}, run_id="run-r")
    assert (unindexed(), queued()) == (0, 1)
    assert found(make_project("Resend"), "three") == ["m-r"]
    assert found(make_project("Resend"), "draft") == []
    assert (queued(), indexed()) == (0, 1)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
def test_indexing_skips_messages_deleted_meanwhile(client):
    register(client, "run-d", project="Gone")
    queued_one, new_one = msg("m-d", content=[text("before")]), msg("m-n", content=[text("fresh")])
    push(client, queued_one, run_id="run-d")
    search.index_pending()
    push(client, {**queued_one, "content": [text("after")]}, run_id="run-d")
    push(client, new_one, run_id="run-d")
    Message.objects.filter(msg_id__in=["m-d", "m-n"]).delete()
    assert search.index_pending() == 1  # the queued one; the new one is gone from the range
    assert (unindexed(), queued(), indexed()) == (0, 0, 0)
    assert [found(make_project("Gone"), word) for word in ("before", "after", "fresh")] == [[], [], []]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
def test_a_message_stored_below_the_mark_with_an_id_of_its_own_is_found(reply):
    first_pk = make_message(reply, "m1", [text("first")]).pk
    make_message(reply, "m2", [text("second")])
    Message.objects.filter(pk=first_pk).delete()
    search.index_pending()
    Message.objects.create(pk=first_pk, run=reply.run, reply=reply, msg_id="m1", content=[text("again")])
    assert queued() == 1
    assert found(reply.run.project, "again") == ["m1"]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
def test_indexing_goes_in_batches_until_nothing_waits(reply):
    for i in range(5):
        make_message(reply, f"m{i}", [text(f"word{i} common")])
    search.index_pending()
    make_message(reply, "m5", [text("word5 common")])
    for i in range(3):
        Message.objects.filter(msg_id=f"m{i}").update(content=[text(f"changed{i} common")])
    assert (unindexed(), queued()) == (1, 3)
    assert search.index_pending(batch=2) == 4
    assert (unindexed(), queued(), indexed()) == (0, 0, 6)
    assert sorted(found(reply.run.project, "common")) == [f"m{i}" for i in range(6)]
    assert found(reply.run.project, "changed1") == ["m1"] and found(reply.run.project, "word1") == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
def test_a_lost_mark_reindexes_everything_once(reply):
    for i in range(3):
        make_message(reply, f"m{i}", [text(f"kept{i} words")])
    search.index_pending()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {search.INDEXED}")
    assert search.index_pending(batch=2) == 3
    assert indexed() == 3 and _count(f"SELECT count(*) FROM {search.INDEXED}") == 1
    assert found(reply.run.project, "kept1") == ["m1"]


@pytest.fixture(autouse=True)
def nothing_waits():
    """The queue and the mark are raw tables, which the flush after a transactional test leaves
    as they are: each test starts with nothing waiting to be indexed."""
    if not ON_POSTGRES:
        search.index_pending()


def _count(sql):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def queued():
    return _count(f"SELECT count(*) FROM {search.PENDING}")


def unindexed():
    return _count(f"SELECT count(*) FROM runs_message WHERE id > (SELECT upto FROM {search.INDEXED})")


def indexed():
    return _count("SELECT count(*) FROM runs_message_fts")


def test_a_deleted_run_leaves_nothing_to_find(reply):
    make_message(reply, "m1", [text("ephemeral")])
    project = reply.run.project
    reply.run.delete()
    assert found(project, "ephemeral") == []


def test_it_searches_one_project_only(reply):
    make_message(reply, "mine", [text("shared word")])
    other = make_reply(make_run("run-2", "Other"), "reply-2")
    make_message(other, "theirs", [text("shared word")])
    assert found(reply.run.project, "shared") == ["mine"]


def test_it_pages_newest_first_with_a_cursor(reply):
    for i in range(5):
        make_message(reply, f"m{i}", [text(f"needle number {i}")])
    project = reply.run.project
    first = search.search(project, "needle", limit=2)
    assert [h.msg_id for h in first.hits] == ["m4", "m3"]
    second = search.search(project, "needle", limit=2, cursor=first.next_cursor)
    assert [h.msg_id for h in second.hits] == ["m2", "m1"]
    last = search.search(project, "needle", limit=2, cursor=second.next_cursor)
    assert [h.msg_id for h in last.hits] == ["m0"] and last.next_cursor is None


def test_a_hit_says_where_the_message_is(reply):
    message = make_message(reply, "m1", [text("find me")])
    (hit,) = search.search(reply.run.project, "find").hits
    assert (hit.message_pk, hit.reply_pk, hit.reply_id, hit.run_id) == (message.pk, reply.pk, "reply-1", "run-1")
    assert hit.created_at is not None and hit.created_at.tzinfo is not None


def test_the_snippet_marks_the_words_and_escapes_everything_else(reply):
    make_message(reply, "m1", [text('look <script>alert("x")</script> here & there')])
    (hit,) = search.search(reply.run.project, "look").hits
    assert "<script>" not in hit.snippet and "&amp;" in hit.snippet and "&quot;" in hit.snippet
    # PostgreSQL's ts_headline leaves markup out of the snippet; FTS5 keeps it, escaped.
    assert ON_POSTGRES or "&lt;script&gt;" in hit.snippet
    assert "<mark>look</mark>" in hit.snippet


def test_markup_in_the_query_is_only_words(reply):
    make_message(reply, "m1", [text("script tag")])
    assert found(reply.run.project, "<script>") == ["m1"]


@pytest.mark.parametrize("query", ['"', "AND OR NOT", "a:b", "*", "(", "NEAR(x y)", "'; DROP TABLE x; --", "^x", ""])
def test_any_query_is_a_valid_search(reply, query):
    make_message(reply, "m1", [text("and or not near x y b")])
    search.search(reply.run.project, query)  # no error


@pytest.mark.parametrize(("limit", "cursor"), [(0, None), ("x", None), (5, "abc"), (5, -1)])
def test_a_bad_limit_or_cursor_is_refused(reply, limit, cursor):
    with pytest.raises(ValueError):
        search.search(reply.run.project, "x", limit=limit, cursor=cursor)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
@pytest.mark.django_db(transaction=True)
def test_the_leaders_sweep_indexes_the_queue_when_nobody_searches(client):
    from asgiref.sync import async_to_sync

    from runs import agent_link

    register(client, "run-w", project="Sweep")
    message = msg("m-w", content=[text("streaming")])
    push(client, message, run_id="run-w")
    push(client, {**message, "content": [text("streamed whole")]}, run_id="run-w")
    assert unindexed() == 1
    async_to_sync(agent_link.sweep)()
    assert (unindexed(), queued()) == (0, 0)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's FTS5 index")
@pytest.mark.django_db(transaction=True)
def test_migrating_back_past_the_mark_and_forward_again_leaves_everything_findable(reply):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.migrate([("runs", target)])

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("runs")[0][1]
    make_message(reply, "waiting", [text("unindexed words")])
    migrate("0010_message_search_deferred")  # indexes what waits: 0010 indexes new messages at once
    assert _count("SELECT count(*) FROM runs_message_fts WHERE runs_message_fts MATCH 'unindexed'") == 1
    make_message(reply, "under-0010", [text("older scheme")])
    Message.objects.filter(msg_id="waiting").update(content=[text("rewritten words")])  # 0010 queues it
    migrate(latest)
    project = reply.run.project
    assert [found(project, word) for word in ("older", "rewritten", "unindexed")] == [["under-0010"], ["waiting"], []]
    make_message(reply, "after", [text("newest scheme")])
    assert found(project, "scheme") == ["after", "under-0010"]
