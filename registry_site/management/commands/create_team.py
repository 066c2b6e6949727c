"""``manage.py create_team ORG TEAM --role ROLE``: create or update a team and add members."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from accounts.models import Robot
from organizations.models import Team, TeamMember
from organizations.services import team_member_add, team_upsert
from registry_site.management.commands._identity import IdentityCommand, Report, audit, member_named, organization_named

ROLE_HELP = "member: repository access only through grants; creator: may also create repositories; admin: administers the organization."


class Command(IdentityCommand):
    help = (
        "Create a team in an organization, or update its role and description when it exists, and add "
        "members (users, or robots of the organization written ORG+ROBOT). Existing members stay."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="Organization name.")
        parser.add_argument("team", metavar="TEAM", help="Team name: lowercase letters and digits, optionally separated by '.', '_' or '-'.")
        parser.add_argument("--role", required=True, choices=Team.TeamRole.values, help=ROLE_HELP)
        parser.add_argument(
            "--member", dest="members", action="extend", nargs="+", default=[], metavar="USER_OR_ROBOT",
            help="User name or ORG+ROBOT to add; repeat the option or list several.",
        )
        parser.add_argument("--description", metavar="D", help="Free-text description (kept when omitted on update).")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot create or update team {options['organization']}/{options['team']}"

    def run(self, options: dict[str, Any]) -> Report:
        organization = organization_named(options["organization"])
        members = [member_named(name) for name in dict.fromkeys(options["members"])]  # all found before any write
        before = Team.objects.filter(organization=organization, name=options["team"]).first()
        team = team_upsert(organization=organization, name=options["team"], role=options["role"], description=options["description"])
        changes = []
        if before is None:
            audit("create_team", command="create_team", namespace_name=organization.name, team=team.name, role=team.role)
        elif (before.role, before.description) != (team.role, team.description):
            if before.role != team.role:
                changes.append(f"role {before.role} -> {team.role}")
            if before.description != team.description:
                changes.append("description changed")
            audit(
                "change_team", command="create_team", namespace_name=organization.name, team=team.name,
                role=team.role, previous_role=before.role, description_changed=before.description != team.description,
            )
        added = []
        for member in members:
            kind = "robot" if isinstance(member, Robot) else "user"
            if TeamMember.objects.filter(team=team, **{kind: member}).exists():
                continue
            team_member_add(team=team, **{kind: member})
            added.append(member.username)
            audit("add_team_member", command="create_team", namespace_name=organization.name, team=team.name, member=member.username, member_kind=kind)
        current = [m.user.username if m.user else m.robot.username for m in team.members.select_related("user", "robot__namespace")]
        full = f"{organization.name}/{team.name}"
        if before is None:
            headline = f"Created team {full} (role {team.role})."
        elif changes or added:
            headline = f"Updated team {full}: " + "; ".join([*changes, *([f"added {', '.join(added)}"] if added else [])]) + "."
        else:
            headline = f"Team {full} already exists as requested (role {team.role}); nothing changed."
        lines = [f"Members ({len(current)}): {', '.join(sorted(current)) or '(none)'}"]
        if team.description:
            lines.append(f"Description: {team.description}")
        return Report(
            headline=headline, lines=lines,
            data={
                "organization": organization.name, "team": team.name, "role": team.role, "description": team.description,
                "created": before is None, "added_members": added, "members": sorted(current),
            },
        )
