"""PriceHub on AWS, as code: `python app.py` (or the cdk CLI) synthesizes the templates of both
stacks into CDK_OUTDIR (cdk.out by default), offline; docs/deployment.md says how to deploy."""

from __future__ import annotations

from aws_cdk import App

from config import Config
from stack import Images, PriceHub


def main() -> None:
    app = App()
    config = Config.from_context(app.node)
    Images(app, "PriceHubImages", config=config)
    PriceHub(app, "PriceHub", config=config)
    app.synth()


if __name__ == "__main__":
    main()
