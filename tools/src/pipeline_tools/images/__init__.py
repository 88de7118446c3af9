"""The images step: build and push the base image and pipeline images with python-on-whales.

`build_images` and `build_base` are what the build sessions run, with the arguments that
`parse_build_arguments` reads. `image_references` tells the deploy step which image each
pipeline runs, without building; `pipeline_content_tag` and `base_content_tag` compute tags
alone. See `build` for the behaviour, `context` for what enters an image, `tags` for content
tags, `dockerfile` for the builder-specific Dockerfile and `engine` for the builders.
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

__all__ = [
    "BaseImage",
    "BuildArguments",
    "BuildReport",
    "ImageOutcome",
    "Status",
    "base_content_tag",
    "build_base",
    "build_images",
    "image_references",
    "parse_build_arguments",
    "pipeline_content_tag",
    "repository",
]
