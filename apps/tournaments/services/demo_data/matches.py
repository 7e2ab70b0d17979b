"""The demo matches: brackets and round-robin schedules, seeded results, disputes, saving.

`_MatchBuilder` is the match half of `builder._DemoBuilder`: it draws on the same random
generator, so the call order here is part of the data set's determinism.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from apps.common.models import User
from apps.tournaments.models import (
    COUNTED_MATCH_STATES,
    Dispute,
    DisputeReason,
    DisputeStatus,
    Match,
    MatchState,
    ParticipationType,
    Registration,
    Tournament,
    TournamentFormat,
    TournamentStatus,
)
from apps.tournaments.services.demo_data.plans import DISPUTE_NOTES, DR, MS, RS, TournamentPlan

ACTIVE_DISPUTE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW, DisputeStatus.ESCALATED)

# Scores by game and participation type: goals (eFootball), frags to 15 (VALORANT 1v1 duels),
# maps (VALORANT 5v5, best of three; a round-robin pairing plays two maps, so 1-1 is a draw).
GOALS, FRAGS, MAPS = "goals", "frags", "maps"
FORFEIT_SCORE = {GOALS: 3, FRAGS: 15, MAPS: 2}
MATCH_MINUTES = {GOALS: (12, 20), FRAGS: (5, 12), MAPS: (70, 130)}
DRAW_CHANCE = {GOALS: 0.2, FRAGS: 0.0, MAPS: 0.15}
RANDOM_FORFEIT_CHANCE = 0.03

P1, P2, DRAW = "p1", "p2", "draw"


@dataclass(slots=True)
class _MatchDraft:
    round: int
    number: int
    participant1: Registration
    participant2: Registration
    state: MatchState = MatchState.SCHEDULED
    score1: int = 0
    score2: int = 0
    winner: Registration | None = None
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    disputes: list[tuple[DisputeStatus, DisputeReason]] = field(default_factory=list)


def _round_robin_rounds(
    competitors: Sequence[Registration], legs: int
) -> list[list[tuple[Registration, Registration]]]:
    """The circle method: every pair meets once per leg; sides swap between legs."""
    slots: list[Registration | None] = list(competitors)
    if len(slots) % 2:
        slots.append(None)
    rounds: list[list[tuple[Registration, Registration]]] = []
    for round_index in range(len(slots) - 1):
        pairs = []
        for index in range(len(slots) // 2):
            first, second = slots[index], slots[-1 - index]
            if first is not None and second is not None:
                pairs.append((first, second) if round_index % 2 == 0 else (second, first))
        rounds.append(pairs)
        slots = [slots[0], slots[-1], *slots[1:-1]]
    second_legs = [[(away, home) for home, away in pairs] for pairs in rounds]
    return rounds + (second_legs if legs == 2 else [])


def _bracket_order(size: int) -> list[int]:
    """Seed numbers in bracket order (1 meets N, and 1 and 2 can only meet in the final)."""
    order = [1]
    while len(order) < size:
        mirror = len(order) * 2 + 1
        order = [seed for top in order for seed in (top, mirror - top)]
    return order


def _pairs(items: Sequence[Registration]) -> list[tuple[Registration, Registration]]:
    return [(items[index], items[index + 1]) for index in range(0, len(items) - 1, 2)]


class _MatchBuilder:
    """Schedules, plays and saves the matches of one tournament plan; needs the attributes below,
    which `_DemoBuilder` sets."""

    rng: random.Random
    staff: User
    player: User
    skill: dict[tuple[bool, int], float]

    def _skill(self, registration: Registration) -> float:
        if registration.team_id is not None:
            return self.skill[(True, registration.team_id)]
        assert registration.user_id is not None
        return self.skill[(False, registration.user_id)]

    def _schedule(self, plan: TournamentPlan, players: list[Registration]) -> list[_MatchDraft]:
        if plan.scripted:
            return self._scripted(plan, players)
        if plan.format == TournamentFormat.ROUND_ROBIN:
            return self._round_robin(plan, players)
        if plan.format == TournamentFormat.DOUBLE_ELIMINATION:
            return self._double_elimination(plan, players)
        if plan.format == TournamentFormat.SINGLE_ELIMINATION:
            return self._single_elimination(plan, players)
        return []  # an unscripted swiss: registration is still open, no round is drawn yet

    def _style(self, plan: TournamentPlan) -> str:
        if plan.game == "efootball":
            return GOALS
        return MAPS if plan.participation_type == ParticipationType.TEAM else FRAGS

    def _round_robin(self, plan: TournamentPlan, players: list[Registration]) -> list[_MatchDraft]:
        ordered = sorted(players, key=lambda registration: registration.pk)
        self.rng.shuffle(ordered)
        withdrawn = None
        if plan.withdrawal_after_round is not None:
            withdrawn = next(each for each in ordered if each.user_id != self.player.pk)
        drafts: list[_MatchDraft] = []
        rounds = _round_robin_rounds(ordered, plan.legs)
        played = len(rounds) if plan.rounds_played is None else plan.rounds_played
        for round_number, pairs in enumerate(rounds, start=1):
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            for number, (first, second) in enumerate(pairs, start=1):
                draft = self._draft(round_number, number, first, second, day)
                has_withdrawn = withdrawn in (first, second) and round_number > (
                    plan.withdrawal_after_round or 0
                )
                if round_number <= played and has_withdrawn:
                    self._forfeit(draft, plan, second if first == withdrawn else first)
                elif round_number <= played:
                    self._play(draft, plan, allow_draw=True)
                elif round_number == played + 1 and plan.status == TournamentStatus.LIVE:
                    states = plan.current_round_states
                    self._set_live_state(
                        draft, plan, states[number - 1] if number <= len(states) else MS.SCHEDULED
                    )
                elif plan.status == TournamentStatus.CANCELLED:
                    draft.state = MatchState.CANCELLED
                drafts.append(draft)
        if withdrawn is not None:
            withdrawn.status = RS.CANCELLED
            withdrawn.save(update_fields=["status"])
        return drafts

    def _single_elimination(
        self, plan: TournamentPlan, players: list[Registration]
    ) -> list[_MatchDraft]:
        by_seed = {registration.seed: registration for registration in players}
        alive = [by_seed[seed] for seed in _bracket_order(len(players))]
        drafts: list[_MatchDraft] = []
        round_number = 0
        while len(alive) > 1:
            round_number += 1
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            round_drafts = [
                self._draft(round_number, number, first, second, day)
                for number, (first, second) in enumerate(_pairs(alive), start=1)
            ]
            drafts.extend(round_drafts)
            if plan.status == TournamentStatus.DRAFT:
                break
            if plan.rounds_played is not None and round_number > plan.rounds_played:
                states = plan.current_round_states
                for index, draft in enumerate(round_drafts):
                    self._set_live_state(
                        draft, plan, states[index] if index < len(states) else MS.SCHEDULED
                    )
                break
            alive = [self._decide(draft, plan) for draft in round_drafts]
        return drafts

    def _double_elimination(
        self, plan: TournamentPlan, players: list[Registration]
    ) -> list[_MatchDraft]:
        """Winners' bracket, losers' bracket fed by each winners' round, then a grand final."""
        by_seed = {registration.seed: registration for registration in players}
        drafts: list[_MatchDraft] = []
        round_number = 0

        def play_round(pairs: Iterable[tuple[Registration, Registration]]) -> list[_MatchDraft]:
            nonlocal round_number
            round_number += 1
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            played = [
                self._draft(round_number, number, first, second, day)
                for number, (first, second) in enumerate(pairs, start=1)
            ]
            for draft in played:
                self._decide(draft, plan)
            drafts.extend(played)
            return played

        def winners(played: list[_MatchDraft]) -> list[Registration]:
            return [draft.winner for draft in played if draft.winner is not None]

        def losers(played: list[_MatchDraft]) -> list[Registration]:
            return [
                draft.participant2 if draft.winner == draft.participant1 else draft.participant1
                for draft in played
            ]

        opening = play_round(_pairs([by_seed[seed] for seed in _bracket_order(len(players))]))
        upper = winners(opening)
        lower = winners(play_round(_pairs(losers(opening))))
        while len(upper) > 1:
            upper_round = play_round(_pairs(upper))
            upper = winners(upper_round)
            lower = winners(play_round(zip(lower, losers(upper_round), strict=True)))
            if len(lower) > 1 and len(upper) > 1:
                lower = winners(play_round(_pairs(lower)))
        play_round([(upper[0], lower[0])])
        return drafts

    def _scripted(self, plan: TournamentPlan, players: list[Registration]) -> list[_MatchDraft]:
        """The plan's written-out results; seats are the field in registration order."""
        drafts: list[_MatchDraft] = []
        numbers: dict[int, int] = {}
        for round_number, first, second, winner in plan.scripted:
            numbers[round_number] = numbers.get(round_number, 0) + 1
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            draft = self._draft(
                round_number, numbers[round_number], players[first - 1], players[second - 1], day
            )
            outcome = DRAW if winner is None else (P1 if winner == first else P2)
            draft.state = MatchState.COMPLETED
            draft.score1, draft.score2 = self._scores(plan, outcome)
            draft.winner = {P1: draft.participant1, P2: draft.participant2, DRAW: None}[outcome]
            self._timestamps(draft, plan, finished=True)
            drafts.append(draft)
        return drafts

    def _draft(
        self,
        round_number: int,
        number: int,
        first: Registration,
        second: Registration,
        day: dt.datetime,
    ) -> _MatchDraft:
        return _MatchDraft(
            round=round_number,
            number=number,
            participant1=first,
            participant2=second,
            scheduled_at=day + dt.timedelta(minutes=40 * (number - 1)),
        )

    def _outcome(self, draft: _MatchDraft, plan: TournamentPlan, allow_draw: bool) -> str:
        if allow_draw and self.rng.random() < DRAW_CHANCE[self._style(plan)]:
            return DRAW
        gap = self._skill(draft.participant1) - self._skill(draft.participant2)
        return P1 if self.rng.random() < 1 / (1 + math.exp(-1.2 * gap)) else P2

    def _scores(self, plan: TournamentPlan, outcome: str) -> tuple[int, int]:
        style = self._style(plan)
        if outcome == DRAW:
            level = self.rng.randint(0, 3) if style == GOALS else 1
            return level, level
        if style == GOALS:
            high = self.rng.randint(1, 5)
            low = self.rng.randint(0, high - 1)
        elif style == FRAGS:
            high, low = 15, self.rng.randint(4, 14)
        else:
            high, low = 2, self.rng.choice((0, 1))
        return (high, low) if outcome == P1 else (low, high)

    def _timestamps(self, draft: _MatchDraft, plan: TournamentPlan, finished: bool) -> None:
        assert draft.scheduled_at is not None
        shortest, longest = MATCH_MINUTES[self._style(plan)]
        draft.started_at = draft.scheduled_at + dt.timedelta(minutes=self.rng.randint(0, 10))
        if finished:
            draft.completed_at = draft.started_at + dt.timedelta(
                minutes=self.rng.randint(shortest, longest)
            )

    def _play(self, draft: _MatchDraft, plan: TournamentPlan, allow_draw: bool) -> None:
        if self.rng.random() < RANDOM_FORFEIT_CHANCE:
            winner = draft.participant1 if self.rng.random() < 0.5 else draft.participant2
            self._forfeit(draft, plan, winner)
            return
        outcome = self._outcome(draft, plan, allow_draw)
        draft.state = MatchState.COMPLETED
        draft.score1, draft.score2 = self._scores(plan, outcome)
        draft.winner = {P1: draft.participant1, P2: draft.participant2, DRAW: None}[outcome]
        self._timestamps(draft, plan, finished=True)

    def _decide(self, draft: _MatchDraft, plan: TournamentPlan) -> Registration:
        """Play an elimination match (no draws) and return who goes through."""
        self._play(draft, plan, allow_draw=False)
        assert draft.winner is not None
        return draft.winner

    def _forfeit(self, draft: _MatchDraft, plan: TournamentPlan, winner: Registration) -> None:
        walkover = FORFEIT_SCORE[self._style(plan)]
        draft.state = MatchState.FORFEIT
        draft.winner = winner
        draft.score1, draft.score2 = (
            (walkover, 0) if winner == draft.participant1 else (0, walkover)
        )
        draft.started_at = draft.scheduled_at
        assert draft.scheduled_at is not None
        draft.completed_at = draft.scheduled_at + dt.timedelta(minutes=15)

    def _set_live_state(self, draft: _MatchDraft, plan: TournamentPlan, state: MatchState) -> None:
        if state in COUNTED_MATCH_STATES:
            self._play(draft, plan, allow_draw=plan.format == TournamentFormat.ROUND_ROBIN)
            return
        draft.state = state
        if state == MatchState.LIVE:
            self._timestamps(draft, plan, finished=False)
            draft.score1, draft.score2 = self._scores(plan, DRAW)
        elif state in (MatchState.PENDING_RESULT, MatchState.DISPUTED):
            self._timestamps(draft, plan, finished=False)
            draft.score1, draft.score2 = self._scores(plan, self._outcome(draft, plan, False))

    def _add_disputes(self, plan: TournamentPlan, drafts: list[_MatchDraft]) -> None:
        """Attach the plan's disputes: active ones to disputed matches, closed ones to results."""
        for status, reason in plan.disputes:
            if status in ACTIVE_DISPUTE_STATUSES:
                candidates = [d for d in drafts if d.state == MS.DISPUTED and not d.disputes]
                if not candidates:
                    candidates = [d for d in drafts if d.state == MS.COMPLETED and not d.disputes]
                    target = self.rng.choice(candidates)
                    target.state, target.winner, target.completed_at = MS.DISPUTED, None, None
                else:
                    target = candidates[0]
            else:
                wanted = MS.FORFEIT if reason == DR.NO_SHOW else MS.COMPLETED
                candidates = [d for d in drafts if d.state == wanted and not d.disputes]
                target = self.rng.choice(candidates)
            target.disputes.append((status, reason))

    def _save_matches(
        self, tournament: Tournament, plan: TournamentPlan, drafts: list[_MatchDraft]
    ) -> None:
        for draft in drafts:
            match = Match(
                tournament=tournament,
                round=draft.round,
                match_number=draft.number,
                participant1=draft.participant1,
                participant2=draft.participant2,
                score1=draft.score1,
                score2=draft.score2,
                winner=draft.winner,
                state=draft.state,
                scheduled_at=draft.scheduled_at,
                started_at=draft.started_at,
                completed_at=draft.completed_at,
            )
            match.save()
            for status, reason in draft.disputes:
                self._create_dispute(match, status, reason)

    def _create_dispute(self, match: Match, status: DisputeStatus, reason: DisputeReason) -> None:
        played_at = match.completed_at or match.started_at or match.scheduled_at
        assert played_at is not None
        opened_at = played_at + dt.timedelta(minutes=self.rng.randint(10, 90))
        is_closed = status in (DisputeStatus.RESOLVED, DisputeStatus.DISMISSED)
        if match.winner_id is not None:
            opened_by = (
                match.participant2
                if match.winner_id == match.participant1_id
                else match.participant1
            )
        else:
            opened_by = self.rng.choice((match.participant1, match.participant2))
        Dispute.objects.create(
            match=match,
            opened_by=opened_by,
            reason=reason,
            status=status,
            evidence=f"dispute_evidence/demo/match-{match.pk}.mp4" if reason != DR.OTHER else "",
            notes=DISPUTE_NOTES[reason],
            opened_at=opened_at,
            resolved_at=opened_at + dt.timedelta(hours=self.rng.randint(2, 48))
            if is_closed
            else None,
            resolved_by=self.staff if is_closed else None,
        )
