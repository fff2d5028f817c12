"""The team leads' tool. A lead (staff, not superuser) sees and edits only the teams they lead.

- `scoping`: who may use it, and the scoping every page shares (querysets, 404s, form choices).
- `time`: times typed and read in the team's zone; `timeline`: the schedule as a picture.
- `teams`, `rota`, `tokens`: the pages, registered on import.
"""

from teams.admin import rota, teams, tokens  # noqa: F401 - registers the model admins
from teams.admin.scoping import NotFoundOutsideScope, TeamListFilter, is_lead_in_admin, led_team_ids

__all__ = ["NotFoundOutsideScope", "TeamListFilter", "is_lead_in_admin", "led_team_ids"]
