"""The images step: build and push the base image and pipeline images with python-on-whales.

`build_command` is what the build sessions run: it reads their arguments with
`parse_build_arguments` and calls `build_images` or `build_base`. `image_references` tells
the deploy step which image each pipeline runs, without building; `pipeline_content_tag`
and `base_content_tag` compute tags alone. See `build` for the behaviour, `context` for what
enters an image, `tags` for content tags, `dockerfile` for the builder-specific Dockerfile
and `engine` for the builders.
"""

from pipeline_tools.images.arguments import BuildArguments, parse_build_arguments
from pipeline_tools.images.build import (
    BaseImage,
    BuildReport,
    ImageOutcome,
    Status,
    base_content_tag,
    build_base,
    build_images,
    image_references,
    pipeline_content_tag,
    repository,
)
from pipeline_tools.images.command import build_command

__all__ = [
    "BaseImage",
    "BuildArguments",
    "BuildReport",
    "ImageOutcome",
    "Status",
    "base_content_tag",
    "build_base",
    "build_command",
    "build_images",
    "image_references",
    "parse_build_arguments",
    "pipeline_content_tag",
    "repository",
]
