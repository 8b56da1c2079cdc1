"""The browser pages: server-rendered Jinja templates (api/web/templates) with small plain
JavaScript modules (api/web/static/js), zh-CN first with an English switch.

``PAGE_HANDLERS`` is what ``api.app`` registers behind the login session: the front
door, the learner's, authors', proctors', employers' and operators' pages;
``STATIC_HANDLERS`` (``/static``) it registers without. Shared machinery (language, the
signed-in principal, page guards, rendering) is ``api.web.common``.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from api.web.author import AuthorPages
from api.web.card import CardPages
from api.web.certificates import (
    LearnerCertificatePages,
    OperatorCertificatePages,
    VerifyPages,
)
from api.web.common import favicon_handlers, static_router, template_config
from api.web.employer import EmployerPages
from api.web.learner import AccountPages, LearnerPages, home
from api.web.orders import EmployerOrderPages, OperatorPages
from api.web.plans import PlanPages
from api.web.proctor import ProctorPages
from api.web.risk import RiskPages
from api.web.study import StudyPages

PAGE_HANDLERS: list[ControllerRouterHandler] = [
    home,
    AccountPages,
    LearnerPages,
    AuthorPages,
    PlanPages,
    ProctorPages,
    RiskPages,
    EmployerPages,
    EmployerOrderPages,
    OperatorPages,
    StudyPages,
    CardPages,
    VerifyPages,
    LearnerCertificatePages,
    OperatorCertificatePages,
]
STATIC_HANDLERS: list[ControllerRouterHandler] = [static_router(), *favicon_handlers()]

__all__ = ["PAGE_HANDLERS", "STATIC_HANDLERS", "template_config"]
