"""Read a cloud assembly (``cdk.out``): its stacks, their templates, and where each Lambda function's code is."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CloudAssembly", "StackArtifact"]


@dataclass
class StackArtifact:
    """One ``aws:cloudformation:stack`` artifact of an assembly.

    Example::

        stack = CloudAssembly.load("cdk.out").stack("Orders")
        stack.template["Resources"], stack.code_dir("OrdersWorkerFunction1A2B3C")
    """

    id: str
    name: str
    template: dict[str, Any]
    template_path: Path
    root: Path
    assets: dict[str, Path] = field(default_factory=dict)
    """Object key (``<hash>.zip``) -> the asset's directory under ``root``."""

    def code_dir(self, logical_id: str) -> Path:
        """The directory holding the code of the ``AWS::Lambda::Function`` ``logical_id``."""
        resource = self.template["Resources"][logical_id]
        path = (resource.get("Metadata") or {}).get("aws:asset:path")
        if isinstance(path, str):
            return (self.root / path).resolve()
        code = resource.get("Properties", {}).get("Code", {})
        key = code.get("S3Key")
        if isinstance(key, str) and key in self.assets:
            return self.assets[key]
        raise LookupError(
            f"stack {self.name}: the code of function {logical_id} is not an asset of this assembly "
            f"(Code: {json.dumps(code)[:200]}); the local cloud runs only code synthesized with the app"
        )


@dataclass
class CloudAssembly:
    """The stacks of a synthesized CDK app.

    Example::

        assembly = CloudAssembly.load("cdk.out")
        [stack.name for stack in assembly.stacks]
    """

    root: Path
    stacks: list[StackArtifact]

    @classmethod
    def load(cls, path: str | Path) -> CloudAssembly:
        """Read ``path/manifest.json`` and every stack template and asset manifest it names."""
        root = Path(path).resolve()
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(
                f"{root} is not a cloud assembly (no manifest.json): synthesize the app first "
                "(`CDK_OUTDIR=cdk.out python app.py` or `npx cdk synth`)"
            )
        manifest = json.loads(manifest_path.read_text())
        artifacts: dict[str, Any] = manifest.get("artifacts", {})
        assets: dict[str, Path] = {}
        for artifact in artifacts.values():
            if artifact.get("type") != "cdk:asset-manifest":
                continue
            asset_manifest = json.loads((root / artifact["properties"]["file"]).read_text())
            for file in asset_manifest.get("files", {}).values():
                source = root / file["source"]["path"]
                for destination in file.get("destinations", {}).values():
                    assets[destination["objectKey"]] = source.resolve()
        stacks: list[StackArtifact] = []
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            props = artifact.get("properties", {})
            template_path = root / props["templateFile"]
            stacks.append(
                StackArtifact(
                    id=artifact_id,
                    name=props.get("stackName") or artifact_id,
                    template=json.loads(template_path.read_text()),
                    template_path=template_path,
                    root=root,
                    assets=assets,
                )
            )
        if not stacks:
            raise ValueError(f"the cloud assembly {root} has no stacks")
        return cls(root, stacks)

    def stack(self, name: str) -> StackArtifact:
        """The stack whose name or artifact id is ``name``."""
        for stack in self.stacks:
            if name in (stack.name, stack.id):
                return stack
        raise KeyError(f"no stack {name!r} in {self.root}; it has {[s.name for s in self.stacks]}")
