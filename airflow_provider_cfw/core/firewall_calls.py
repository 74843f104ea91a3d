"""The firewall calls of :class:`~airflow_provider_cfw.core.client.CfwClient` (CreateFirewall,
DeleteFirewall, ListFirewallList), sync and async, as a mixin.

They are built from the pure pieces in :mod:`~airflow_provider_cfw.core.firewalls` and run through the
client's own ``_run`` / ``_arun`` (retries, authentication), like every other call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_cfw.core import firewalls as fw

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_cfw.core.client import T, _Call
    from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
    from airflow_provider_cfw.core.settings import CfwSettings


class FirewallCalls:
    """CreateFirewall, DeleteFirewall and ListFirewallList for a client (mixed into ``CfwClient``)."""

    if TYPE_CHECKING:
        settings: CfwSettings

        def _call(
            self,
            request: HttpRequest,
            parse: Callable[[HttpResponse], T],
            *,
            project_id: str | None,
            auth: bool = True,
            idempotent: bool = True,
        ) -> _Call[T]: ...

        def _known_project(self, project_id: str | None) -> str | None: ...
        def project_id(self) -> str: ...
        async def aproject_id(self) -> str: ...
        def _run(self, call: _Call[T]) -> T: ...
        async def _arun(self, call: _Call[T]) -> T: ...

    # ---- the calls, shared ---------------------------------------------------------------------

    def _create_firewall_call(
        self, body: Mapping[str, Any], project_id: str, client_token: str | None
    ) -> _Call[fw.CreatedFirewall]:
        return self._call(
            fw.create_request(self.settings.endpoint, project_id, body, client_token),
            fw.parse_create_response,
            project_id=project_id,
            idempotent=False,
        )

    def _delete_firewall_call(self, firewall_id: str, project_id: str) -> _Call[fw.DeletedFirewall]:
        return self._call(
            fw.delete_request(self.settings.endpoint, project_id, firewall_id),
            fw.parse_delete_response,
            project_id=project_id,
        )

    def _list_firewalls_call(
        self,
        project_id: str,
        key_word: str | None,
        limit: int,
        offset: int,
        enterprise_project_id: str | None,
    ) -> _Call[fw.FirewallPage]:
        # A POST, but a read: resending it is harmless.
        request = fw.list_request(
            self.settings.endpoint,
            project_id,
            key_word=key_word,
            limit=limit,
            offset=offset,
            enterprise_project_id=enterprise_project_id,
        )
        return self._call(request, fw.parse_list_response, project_id=project_id)

    # ---- sync -----------------------------------------------------------------------------------

    def create_firewall(
        self, body: Mapping[str, Any], project_id: str | None = None, client_token: str | None = None
    ) -> fw.CreatedFirewall:
        """CreateFirewall with a body from :func:`~airflow_provider_cfw.core.firewalls.create_firewall_body`
        and, if given, the ``X-Client-Token`` idempotency header."""
        project = self._known_project(project_id) or self.project_id()
        return self._run(self._create_firewall_call(body, project, client_token))

    def delete_firewall(self, firewall_id: str, project_id: str | None = None) -> fw.DeletedFirewall:
        firewall_id = fw.validate_firewall_id(firewall_id)
        project = self._known_project(project_id) or self.project_id()
        return self._run(self._delete_firewall_call(firewall_id, project))

    def list_firewalls(
        self,
        key_word: str | None = None,
        *,
        enterprise_project_id: str | None = None,
        page_size: int = fw.LIST_PAGE_MAX,
        project_id: str | None = None,
    ) -> list[fw.CfwFirewall]:
        fw.validate_list_arguments(key_word, page_size, enterprise_project_id)
        project = self._known_project(project_id) or self.project_id()
        firewalls: list[fw.CfwFirewall] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            page = self._run(
                self._list_firewalls_call(project, key_word, page_size, offset, enterprise_project_id)
            )
            pages += 1
            firewalls.extend(page.firewalls)
            offset = fw.next_offset(page, offset, pages)
        return firewalls

    # ---- async ----------------------------------------------------------------------------------

    async def acreate_firewall(
        self, body: Mapping[str, Any], project_id: str | None = None, client_token: str | None = None
    ) -> fw.CreatedFirewall:
        project = self._known_project(project_id) or await self.aproject_id()
        return await self._arun(self._create_firewall_call(body, project, client_token))

    async def adelete_firewall(self, firewall_id: str, project_id: str | None = None) -> fw.DeletedFirewall:
        firewall_id = fw.validate_firewall_id(firewall_id)
        project = self._known_project(project_id) or await self.aproject_id()
        return await self._arun(self._delete_firewall_call(firewall_id, project))

    async def alist_firewalls(
        self,
        key_word: str | None = None,
        *,
        enterprise_project_id: str | None = None,
        page_size: int = fw.LIST_PAGE_MAX,
        project_id: str | None = None,
    ) -> list[fw.CfwFirewall]:
        fw.validate_list_arguments(key_word, page_size, enterprise_project_id)
        project = self._known_project(project_id) or await self.aproject_id()
        firewalls: list[fw.CfwFirewall] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            call = self._list_firewalls_call(project, key_word, page_size, offset, enterprise_project_id)
            page = await self._arun(call)
            pages += 1
            firewalls.extend(page.firewalls)
            offset = fw.next_offset(page, offset, pages)
        return firewalls
