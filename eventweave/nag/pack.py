"""EventweaveChecks: the cdk-nag 3.x pack that checks the wiring between resources of any CDK app.

cdk-nag 3 packs are CDK validation plugins: CDK synthesizes the templates, then calls the pack with the template
paths and the construct tree. This pack reads every template once into a :class:`~eventweave.nag.model.Model`
(references resolved across resources and stacks), runs its rules over it, and only when something is found walks
the construct tree the cdk-nag way (``checkResource`` per ``CfnResource``, ``applyRule`` per finding), so findings
are acknowledged exactly as cdk-nag's own (``Validations.of(construct).acknowledge(...)``) and carry construct paths.
The report has one violation per resource, each with its own message and fix.

Example::

    from aws_cdk import App, Validations
    from eventweave.nag import EventweaveChecks

    app = App()
    OrdersStack(app, "Orders")
    Validations.of(app).add_plugins(EventweaveChecks(app))
    app.synth()     # a finding fails the synth, as with any cdk-nag pack; cdk.out/validation-report.json lists them
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
)
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from .model import Model
from .rule import ERROR, PACK, Finding, Rule
from .rules import RULES, check, evaluate

__all__ = ["EventweaveChecks"]


class EventweaveChecks(NagPack):
    """The Eventweave pack: event-driven wiring that AWS refuses, that loses data, or that retries badly.

    Rule ids are ``Eventweave-<rule>`` (see :mod:`eventweave.nag.rules`); errors are what AWS refuses to create or
    what loses data, warnings the rest. Acknowledge a finding the cdk-nag way::

        Validations.of(queue).acknowledge(Acknowledgment(id="Eventweave-QueueRedrivePolicy", reason="..."))

    After synth, :attr:`findings` holds what the pack reported (acknowledged findings excluded) and :attr:`checked`
    how many resources it read.

    :param scope: the app (used when the validation context carries no construct tree).
    :param verbose: append each rule's explanation (and its AWS source) to the message.
    :param rules: the rules to run. Default: all of :data:`eventweave.nag.rules.RULES`.
    """

    def __init__(
        self, scope: IConstruct | None = None, *, verbose: bool = False, rules: Sequence[Rule] = RULES
    ) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK
        self._root = scope
        self._explain = verbose
        self._rules = tuple(rules)
        self._model: Model | None = None
        self._hits: dict[tuple[str, str], list[Rule]] = {}
        self._templates: dict[int, tuple[Stack, str | None]] = {}
        self.findings: list[Finding] = []
        self.checked = 0
        """How many resources the last validation read (every resource of every template)."""

    @property
    def name(self) -> str:
        """The plugin name shown in CDK's validation report."""
        return PACK

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        """Called by CDK after synthesis with the template paths and the construct tree."""
        stacks = {s.template_path: s.stack_construct_path for s in context.stack_templates}
        model = Model.from_files({name: path for path, name in stacks.items()})
        self._model, self._hits, self._templates, self.findings = model, {}, {}, []
        self.checked = sum(len(t.resources) for t in model.templates.values())
        for rule, resource, _ in evaluate(model, self._rules):
            self._hits.setdefault(resource.key, []).append(rule)
        if not self._hits:
            return PolicyValidationPluginReport(success=True, violations=[])
        root = context.app_construct or self._root
        if root is None:
            raise ValueError("EventweaveChecks needs the construct tree: pass the app, EventweaveChecks(app)")
        report = self.validate_scope(root)  # the cdk-nag walk: checkResource per CfnResource, applyRule per hit
        return self._per_resource(report, model)

    def _check_resource(self, node: CfnResource) -> None:
        model = self._model
        if model is None:
            return  # validate_scope() without validate(): no templates to check
        stack = Stack.of(node)
        template = self._template_of(stack, model)
        if template is None:
            return
        key = (template, cast(str, stack.resolve(node.logical_id)))
        model.paths[key] = node.node.path
        for rule in self._hits.get(key, ()):
            self._apply_rule(cast(IApplyRule, _Application(node, rule)))

    def _template_of(self, stack: Stack, model: Model) -> str | None:
        """The template file of ``stack`` (a top-level or nested stack) among the model's templates."""
        cached = self._templates.get(id(stack))
        if cached is not None:
            return cached[1]
        file_name, path = stack.template_file, stack.node.path
        candidates = [t for t in model.templates.values() if Path(t.path).name == file_name]
        chosen = next((t for t in candidates if t.name == path), candidates[0] if candidates else None)
        # Keyed by id() of the stack proxy, which the entry keeps alive so that the id cannot be reused.
        self._templates[id(stack)] = (stack, chosen.path if chosen else None)
        return chosen.path if chosen else None

    def _per_resource(self, report: PolicyValidationPluginReport, model: Model) -> PolicyValidationPluginReport:
        """cdk-nag groups violations by rule with the first resource's text; give each resource its own."""
        by_path = {path: key for key, path in model.paths.items()}
        rules = {rule.rule_id: rule for rule in self._rules}
        violations = []
        for violation in report.violations:
            rule = rules.get(violation.rule_name)
            leftover = []
            for violating in violation.violating_resources:
                key = by_path.get(violating.construct_path or "")
                template = model.templates.get(key[0]) if key else None
                resource = template.resources.get(key[1]) if template and key else None
                problem = check(rule, resource, model) if rule and resource else None
                if rule is None or resource is None or problem is None:
                    leftover.append(violating)  # not one this pack can describe: keep it as cdk-nag reported it
                    continue
                where = violating.construct_path or model.display(resource)
                message = rule.message(problem, where)
                if self._explain:
                    message += f" Why: {rule.explanation}"
                self.findings.append(Finding(rule.rule_id, where, rule.level, message))
                violations.append(
                    PolicyViolation(
                        rule_name=rule.rule_id,
                        description=message,
                        fix=f"{problem.cdk} With eventweave: {problem.eventweave}",
                        severity=rule.level,
                        violating_resources=[
                            PolicyViolatingResource(
                                construct_path=where,
                                resource_logical_id=resource.logical_id,
                                template_path=resource.template.path,
                                locations=["Properties"],
                            )
                        ],
                    )
                )
            if leftover:
                violations.append(
                    PolicyViolation(
                        rule_name=violation.rule_name,
                        description=violation.description,
                        severity=violation.severity,
                        violating_resources=leftover,
                    )
                )
        return PolicyValidationPluginReport(success=not violations, violations=violations)


@jsii.implements(IApplyRule)
class _Application:
    """One ``applyRule`` call: cdk-nag checks the acknowledgements and records the violation."""

    def __init__(self, node: CfnResource, rule: Rule) -> None:
        self._node, self._rule = node, rule

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.id

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR if self._rule.level == ERROR else NagMessageLevel.WARN

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return NagRuleCompliance.NON_COMPLIANT  # the model already decided; cdk-nag only applies acknowledgements
