"""The browser pages: server-rendered Jinja templates (api/templates) with small plain
JavaScript modules (api/static/js), zh-CN first with an English switch.

``PAGE_HANDLERS`` is what ``api.app`` registers: the front door, the learner's pages, the
integrity report of the exam page, and ``/static``. Shared machinery (language, the
signed-in principal, page guards, rendering) is ``api.pages.common``.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from api.pages.author import AuthorPages
from api.pages.common import static_router, template_config
from api.pages.integrity import IntegrityController
from api.pages.learner import AccountPages, LearnerPages, home
from api.pages.proctor import ProctorPages
from api.pages.study import StudyPages

PAGE_HANDLERS: list[ControllerRouterHandler] = [
    home,
    AccountPages,
    LearnerPages,
    IntegrityController,
    AuthorPages,
    ProctorPages,
    StudyPages,
    static_router(),
]

__all__ = ["PAGE_HANDLERS", "template_config"]
