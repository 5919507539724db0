"""Every channel's message fits that service's limits whatever the platform's ids are; a Slack
cut never splits an HTML entity."""

from __future__ import annotations

import re

from sge_recon.alerts.channels import slack_payload
from sge_recon.alerts.message import Message

BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def test_slack_cuts_the_raw_text_so_no_entity_is_split():
    message = Message("x" * 2995 + "&<>&<>", [("Where", "y" * 1985 + "&&&&&&&&")],
                      lines=["z" * 2990 + "<<<<<<<"], lines_title="Batches")
    slack = slack_payload(message)
    texts = [slack["text"], slack["blocks"][0]["text"]["text"],
             slack["blocks"][1]["fields"][0]["text"], slack["blocks"][2]["text"]["text"]]
    for text, limit in zip(texts, (3000, 3000, 2000, 3000)):
        assert len(text) <= limit and text.endswith("…")
        assert not BROKEN_ENTITY.search(text), text[-12:]
    assert texts[0] == "x" * 2995 + "…"  # "&amp;" does not fit whole: left out, not split
    assert texts[2] == "*Where*\n" + "y" * 1985 + "&amp;…"  # whole entities, as many as fit
    # short text is only escaped
    assert slack_payload(Message("a & b <c>"))["text"] == "a &amp; b &lt;c&gt;"
