"""The therapist's homework in the web app, headless Chromium at laptop size (1280x800)
against a real `kaari serve` (SQLite and PostgreSQL), with the guardian's Python
reference client (client/homework.py) at home:

- from the caseload to the case's homework; a task with an end before its start is
  refused by the server, its code in words (English, then Finnish);
- the task set with a picture (encrypted in the browser, an attachment of the homework
  room), three times a week, ticked by a guardian: the guardian's client decrypts the
  title, the instructions and the picture byte for byte, and ticks;
- the therapist sees the tick in this week's and the since-the-last-session progress;
- pause and resume, an edit (new title and who ticks: the guardian's client reads the
  new content with the same picture), finish;
- then neither the texts nor the picture's bytes are anywhere the server keeps anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from servers import scenario_server, stored_bytes
from web_browser import Chromium, Page, poll
from web_support import (
    PASSWORD,
    assert_accessible,
    assert_reflows,
    choose_language,
    chromium,
    onboard,
    png,
    set_value,
    shot,
    text_of,
)

from client.api import Api
from client.homework import Homework
from client.matrix import MatrixClient, MatrixHttp
from client.matrix.files import fetch_file

__all__ = ["chromium"]  # a fixture (web_support)

DESKTOP = (1280, 800)
TASK = "#tasks .th-task"


def status_of(page: Page) -> str:
    return str(page.evaluate(f"document.querySelector('{TASK}')?.dataset.status ?? ''"))


def test_a_therapist_sets_follows_and_finishes_homework(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    title = "Kengännauhat solmuun itse"
    instructions = "Harjoitellaan rusettia aamulla ennen päiväkotia, kuva näyttää otteen."
    new_title = "Kengännauhat ja tarranauhat itse"
    picture = png(120, 90)
    picture_file = tmp_path / "rusetti.png"  # outside the server's files
    picture_file.write_bytes(picture)
    anna_mx: MatrixClient | None = None
    apis: list[Api] = []
    try:
        people = onboard(server)
        eino = people["case"]
        terhi_api = Api(server.url, token=people["therapist"]["token"])
        anna_api = Api(server.url, token=people["guardian"]["token"])
        apis += [terhi_api, anna_api]
        # the guardian's device is keyed before the browser sends: it gets the room key
        anna_mx = MatrixClient.open(
            MatrixHttp.connect(server.url, people["guardian"]["token"]),
            tmp_path / "anna",
            os.urandom(32),
        )
        anna_mx.sync()
        anna = Homework(anna_mx, anna_api)

        page = chromium.page()
        page.viewport(*DESKTOP)
        page.locale("en-GB")
        page.goto(f"{server.url}/app/")
        page.wait_for("!!document.querySelector('#email')", what="the sign-in form")
        page.type("#email", "terhi@example.fi")
        page.type("#password", PASSWORD)
        page.click("#signin")
        page.wait_for("!!document.querySelector('.case-card .homework-link')", 60, "caseload")
        page.click(".case-card .homework-link")
        page.wait_for(
            "!!document.querySelector('#new-form') && !!document.querySelector('#no-tasks')",
            30,
            "the case's homework",
        )
        assert page.evaluate("location.pathname") == f"/app/cases/{eino}/homework"
        page.wait_for("document.querySelector('h1').textContent === 'Eino: homework'", 10)

        # the picture, encrypted here and uploaded to the homework room
        assert page.evaluate("document.querySelector('#new-media').accept") == "image/*,video/*"
        page.set_files("#new-media", picture_file)
        page.wait_for("document.querySelectorAll('#new-attached li').length === 1", 30, "attached")
        page.type("#new-title", title)
        page.type("#new-instructions", instructions)
        page.click("#new-kind-perWeek")
        page.wait_for("!!document.querySelector('#new-times')", 5, "times a week")
        set_value(page, "#new-times", "3")
        set_value(page, "#new-tick-by", "guardian", "change")
        # a bad input: the end before the start; the server's rule in words
        today = page.evaluate("document.querySelector('#new-starts').value")
        set_value(page, "#new-ends", "2020-01-01")
        page.click("#new-submit")
        page.wait_for("!!document.querySelector('#new-error')", 30, "the refusal")
        assert page.evaluate("document.querySelector('#new-error').dataset.code") == (
            "task_dates_invalid"
        )
        assert text_of(page, "#new-error") == (
            "The end date cannot be before the start (a one-time task ends on its start day)."
        )
        choose_language(page, "fi")
        assert text_of(page, "#new-error") == (
            "Päättymispäivä ei voi olla ennen alkua (kertatehtävä päättyy alkupäivänään)."
        )
        choose_language(page, "en")
        assert terhi_api.get(f"/cases/{eino}/homework") == []
        # corrected, and sent again (the same task id, the picture uploaded once)
        set_value(page, "#new-ends", "")
        page.click("#new-submit")
        page.wait_for(
            f"!!document.querySelector('#new-done') && !!document.querySelector('{TASK}')",
            30,
            "the task set",
        )
        (wire,) = terhi_api.get(f"/cases/{eino}/homework")
        assert wire["schedule"] == {"kind": "perWeek", "timesPerWeek": 3}
        assert wire["tickBy"] == "guardian"
        assert wire["startsOn"] == today
        assert wire["endsOn"] is None
        card = f"{TASK}[data-task='{wire['id']}']"
        page.wait_for(f"document.querySelector(\"{card} h3\").textContent === '{title}'",
                      30, "its title decrypted")  # fmt: skip
        assert text_of(page, f"{card} .hw-instructions") == instructions
        assert text_of(page, f"{card} .rule") == "3 times a week"
        assert text_of(page, f"{card} .ticker") == "Ticked by a guardian"
        page.wait_for(
            f'(() => {{ const i = document.querySelector("{card} img.hw-media");'
            " return !!i && i.complete && i.naturalWidth === 120; })()",
            30,
            "the picture decrypted on the page",
        )
        assert page.evaluate(f'document.querySelector("{card} img.hw-media").alt') == (
            "Picture: rusetti.png"
        )

        # the guardian's reference client decrypts all of it and ticks today
        (task,) = anna.tasks(eino)
        assert task.readable, task.problem
        assert (task.title, task.instructions) == (title, instructions)
        (pointer,) = task.media
        assert (pointer.media_type, pointer.file_name) == ("image/png", "rusetti.png")
        assert b"".join(fetch_file(anna_api, pointer)) == picture
        anna.tick(task.id)

        # the therapist's screen asks again: this week's and the period's counts
        page.wait_for(f"document.querySelector(\"{card} .hw-week\")?.textContent"
                      " === 'This week: 1 of 3 done'", 45, "the tick in the progress")  # fmt: skip
        since = terhi_api.get(f"/cases/{eino}/homework/progress")["summary"]
        assert since["done"] == 1
        assert text_of(page, f"{card} .hw-since") == (
            f"Since the last session: 1 of {since['expected']}"
        )
        assert text_of(page, "#homework-summary").startswith("Since the last session (")
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            page.evaluate("document.activeElement.blur(); scrollTo(0, 0)")
            shot(page, f"therapist-homework-{lang}-desktop.png")
        assert_accessible(page, "the therapist's homework")
        assert_reflows(page, "the therapist's homework", DESKTOP)

        # pause, and resume
        page.click(f"{card} .pause")
        page.wait_for(f"document.querySelector(\"{card}\").dataset.status === 'paused'", 30)
        assert text_of(page, f"{card} .status") == "Paused"
        assert terhi_api.get(f"/homework/{wire['id']}")["status"] == "paused"
        page.click(f"{card} .resume")
        page.wait_for(f"document.querySelector(\"{card}\").dataset.status === 'active'", 30)

        # an edit: the title, and now the child or a guardian ticks
        page.click(f"{card} .edit")
        form = f"#edit-{wire['id'][:8]}"
        page.wait_for(f"!!document.querySelector('{form}-form')", 10, "the edit form")
        assert page.evaluate(f"document.querySelector('{form}-title').value") == title
        assert page.evaluate(f"document.querySelector('{form}-times').value") == "3"
        assert page.evaluate(f"document.querySelectorAll('{form}-attached li').length") == 1
        page.evaluate(f"document.querySelector('{form}-form').scrollIntoView()")
        shot(page, "therapist-homework-edit-en-desktop.png")
        assert_accessible(page, "the edit form")
        set_value(page, f"{form}-title", new_title)
        set_value(page, f"{form}-tick-by", "both", "change")
        page.click(f"{form}-submit")
        page.wait_for(f"document.querySelector(\"{card} h3\")?.textContent === '{new_title}'",
                      30, "the new title")  # fmt: skip
        assert text_of(page, f"{card} .ticker") == "Ticked by the child or a guardian"
        edited = terhi_api.get(f"/homework/{wire['id']}")
        assert (edited["contentVersion"], edited["tickBy"]) == (2, "both")
        assert edited["schedule"] == wire["schedule"]  # unchanged, so not sent
        again = anna.task(wire["id"])
        assert (again.title, again.instructions) == (new_title, instructions)
        assert again.media == task.media  # the same picture

        # finish, after the question
        page.click(f"{card} .finish")
        page.wait_for(f'!!document.querySelector("{card} .finish-yes")', 10, "the question")
        page.click(f"{card} .finish-yes")
        page.wait_for(
            f"!!document.querySelector(\"#finished-tasks [data-task='{wire['id']}']\")"
            " && !!document.querySelector('#no-tasks')",
            30,
            "the task finished",
        )
        assert terhi_api.get(f"/homework/{wire['id']}")["status"] == "finished"
        choose_language(page, "sv")
        assert text_of(page, "#finished-title") == "Avslutade uppgifter"
        choose_language(page, "en")
        # the guardian's list keeps it, finished
        poll(lambda: anna.task(wire["id"]).status == "finished", 10, "finished at home")
    finally:
        if anna_mx is not None:
            anna_mx.close()
            anna_mx.http.close()
        for api in apis:
            api.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in (title, instructions, new_title, "rusetti", *people["secrets"]):
        assert text.encode() not in everything, text[:20]
    assert picture not in everything
    assert picture[-4096:] not in everything  # not even the pixels' tail
