#!/usr/bin/env bash
#SBATCH --job-name=everything --partition=debug --account=proj --qos=high
#SBATCH --reservation=maint --nodes=2-4 --ntasks=8 --ntasks-per-node=4 --cpus-per-task=2
#SBATCH --mem=8G --gres=gpu:1,nvme:1 --time=1:30:00 --time-min=30
#SBATCH --output=o_%j --error=e_%j --chdir=/scratch/u --open-mode=truncate
#SBATCH --comment="ran by the gateway" --constraint=ib --exclusive=user
#SBATCH --nodelist=n1 --exclude=n9 --switches=1 --licenses=matlab:1
#SBATCH --array=1-3 --dependency=afterok:1234 --mail-type=ALL --mail-user=u@x.org
#SBATCH --export=NONE --no-requeue
srun ./a.out
