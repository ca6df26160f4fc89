// The agent's container image: docker/agent.Dockerfile, whose file tree docker/agent.image.json writes
// down. Its bootstrap is not compiled in the image: it is cross-compiled here with cargo-lambda (the
// manifest's `buildCommand`), before the image asset is staged, whenever the stack's assets are bundled
// (`cdk deploy`; skipped with SERVERLESS_OPENCLAW_SKIP_BUNDLING=1), as cargo-lambda-cdk builds the other
// functions during synth.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { DockerImageCode } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { repoPath } from './paths.ts';

export const AGENT_DOCKERFILE = 'docker/agent.Dockerfile';
export const AGENT_IMAGE_MANIFEST = 'docker/agent.image.json';

/** One file of the image (the fields this app reads; docker/agent.image.json describes them all). */
export interface ImageFile {
  readonly image: string;
  readonly context?: string;
  readonly buildCommand?: readonly string[];
}

export interface ImageManifest {
  readonly files: readonly ImageFile[];
}

export function readAgentImageManifest(): ImageManifest {
  return JSON.parse(readFileSync(repoPath(AGENT_IMAGE_MANIFEST), 'utf8')) as ImageManifest;
}

/** Runs the build command of each file made just before the image, from the repository root. */
function buildPrebuiltFiles(manifest: ImageManifest): void {
  for (const file of manifest.files) {
    if (file.buildCommand === undefined) continue;
    const [program, ...args] = file.buildCommand;
    try {
      // Its output goes to stderr: the CDK CLI reads the app's stdout.
      execFileSync(program, args, { cwd: repoPath(), stdio: ['ignore', process.stderr, 'inherit'] });
    } catch (error) {
      throw new Error(
        `building ${file.context} (${file.image} in the agent image) with \`${file.buildCommand.join(' ')}\` failed: ` +
          `${(error as Error).message}. make deploy installs what it needs (cargo-lambda, the aarch64 Rust target).`,
        { cause: error },
      );
    }
  }
}

/** The image's code: its prebuilt files built first when the stack is being bundled. */
export function agentImageCode(scope: Construct): DockerImageCode {
  if (Stack.of(scope).bundlingRequired) {
    buildPrebuiltFiles(readAgentImageManifest());
  }
  return DockerImageCode.fromImageAsset(repoPath(), { file: AGENT_DOCKERFILE, platform: Platform.LINUX_ARM64 });
}
