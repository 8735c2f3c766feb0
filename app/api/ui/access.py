"""Who may see and who may change: the console's two dependencies (the API's two roles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.auth import Caller
from app.api.ui.session import Session, caller_of


def session_of(request: Request) -> Session:
    session: Session = request.state.console_session
    return session


async def reader(request: Request) -> Caller:
    return caller_of(request, session_of(request), "evaluator")


async def admin(request: Request) -> Caller:
    return caller_of(request, session_of(request), "admin")


ReaderDep = Annotated[Caller, Depends(reader)]
AdminDep = Annotated[Caller, Depends(admin)]
