#!/bin/bash
#SBATCH --job-name=myhetjobtest --comment="x hetjob y"
srun ./a.out
