"""The one-process container: direct delivery to role subscriptions, and mango's own dispatch
for agents that use more of mango than subscriptions."""

import asyncio

from mango import ExternalClock, Role, RoleAgent, activate
from mango.messages.message import AgentAddress

from assume.local_container import LocalContainer
from assume.messaging import Link, MessengerRole


class Recorder(MessengerRole):
    def __init__(self, kinds=(str,)):
        super().__init__()
        self.kinds = kinds
        self.got = []

    def setup(self):
        for kind in self.kinds:
            self.on(kind, lambda content, meta: self.got.append(content))


class WholeMessages(Role):
    """A plain mango role that overrides handle_message (so it gets every message)."""

    def __init__(self):
        super().__init__()
        self.got = []

    def handle_message(self, content, meta):
        self.got.append(content)


def _run(build):
    async def main():
        container = LocalContainer(ExternalClock(start_time=0))
        link = Link(post=container.deliver)
        agents = build(container, link)
        async with activate(container):
            for content, receiver in agents["send"]:
                container.deliver(content, AgentAddress(container.addr, receiver), "test")
            # the container drains its queue in a loop callback: one queued after it runs later
            drained = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(drained.set_result, None)
            await drained
            assert not container._mail
        return agents, container

    return asyncio.run(main())


def _agent(container, link, aid, *roles):
    agent = RoleAgent()
    for role in roles:
        if isinstance(role, MessengerRole):
            role.link = link
        agent.add_role(role)
    container.register(agent, suggested_aid=aid)
    return agent


def test_messages_reach_role_subscriptions_directly_in_sending_order():
    def build(container, link):
        words, numbers = Recorder((str,)), Recorder((int, str))
        _agent(container, link, "a", words, numbers)
        return {
            "roles": (words, numbers),
            "link": link,
            "send": [("x", "a"), (1, "a"), ("y", "a"), (2.5, "a")],
        }

    agents, container = _run(build)
    words, numbers = agents["roles"]
    assert words.got == ["x", "y"]
    assert numbers.got == ["x", 1, "y"]
    # the agent was routed directly: its entry holds the subscriptions to call
    (route,) = [known[1] for known in container._routes.values()]
    assert route is not None and len(route) == 2
    # the float matched no subscription: not counted as handled
    assert agents["link"].counter.received == 3


class Picky(Recorder):
    """A role with a condition of its own on top of its handlers' types."""

    def _accepts(self, content, meta):
        return content != "y" and super()._accepts(content, meta)


def test_a_roles_own_condition_is_asked_and_the_base_condition_left_to_the_handler():
    def build(container, link):
        plain, picky = Recorder((str,)), Picky((str,))
        _agent(container, link, "a", plain, picky)
        return {"roles": (plain, picky), "link": link, "send": [("x", "a"), ("y", "a"), (1, "a")]}

    agents, container = _run(build)
    plain, picky = agents["roles"]
    assert plain.got == ["x", "y"] and picky.got == ["x"]
    (route,) = [known[1] for known in container._routes.values()]
    conditions = {role: accepts for role, accepts, _ in route}
    assert conditions[plain] is None and conditions[picky] is not None
    assert agents["link"].counter.received == 2  # the int matched nothing


def test_agents_using_more_of_mango_go_through_its_dispatch():
    def build(container, link):
        plain = WholeMessages()
        recorder = Recorder()
        _agent(container, link, "whole", plain, recorder)
        kept = Recorder()
        forwarding = _agent(container, link, "forwarding", kept)
        forwarding.add_forwarding_rule(
            AgentAddress(container.addr, "test"), AgentAddress(container.addr, "elsewhere")
        )
        return {
            "roles": (plain, recorder, kept),
            "send": [("x", "whole"), (3, "whole"), ("y", "forwarding")],
        }

    agents, container = _run(build)
    plain, recorder, kept = agents["roles"]
    # mango hands every message to a role that overrides handle_message, and the
    # subscriptions get theirs
    assert plain.got == ["x", 3]
    assert recorder.got == ["x"]
    (whole,) = [known for agent, known in container._routes.items() if agent.aid == "whole"]
    assert whole[1] is None
    # a message that a forwarding rule matches is forwarded, not handled where it arrived
    assert kept.got == []


def test_a_role_added_later_is_routed_as_mango_would():
    """The direct route is kept only while the agent's roles and subscriptions stay as they
    were: a role added after the first message (one that takes every message through
    handle_message) gets the messages after it."""
    late = WholeMessages()

    def build(container, link):
        recorder = Recorder()
        agent = _agent(container, link, "a", recorder)

        def add_late_role(content, meta):
            if content == "add":
                agent.add_role(late)

        recorder.on(str, add_late_role)
        return {"roles": (recorder,), "send": [("x", "a"), ("add", "a"), ("y", "a")]}

    agents, container = _run(build)
    (recorder,) = agents["roles"]
    assert recorder.got == ["x", "add", "y"]
    assert late.got == ["y"]
